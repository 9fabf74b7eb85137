from .adamw import LossScaledAdamWeightDecay
from .optim_factory import OPTIMIZER_NAMES, create_optimizer
from .param_groups import WEIGHT_DECAY_FILTERS, is_norm_or_bias, weight_decay_groups

__all__ = [
    "LossScaledAdamWeightDecay",
    "OPTIMIZER_NAMES",
    "WEIGHT_DECAY_FILTERS",
    "create_optimizer",
    "is_norm_or_bias",
    "weight_decay_groups",
]
