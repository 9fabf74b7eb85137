from .aux_logits import AuxLogitsLoss
from .binary_cross_entropy import BinaryCrossEntropySmooth
from .cross_entropy import CrossEntropySmooth
from .loss_factory import LOSS_NAMES, create_loss

__all__ = ["AuxLogitsLoss", "BinaryCrossEntropySmooth", "CrossEntropySmooth", "LOSS_NAMES", "create_loss"]
