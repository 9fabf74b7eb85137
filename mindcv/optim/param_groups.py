"""Which parameters get weight decay: MindCV's `weight_decay_filter` as MindSpore parameter groups."""
from typing import List, Tuple, Union

from mindspore import Parameter

WEIGHT_DECAY_FILTERS = ("disable", "auto", "norm_and_bias")
_NORM_AND_BIAS = ("gamma", "beta", "bias")  # last name part of norm-layer scale/shift and of biases


def is_norm_or_bias(param: Parameter) -> bool:
    return param.name.rsplit(".", 1)[-1] in _NORM_AND_BIAS


def weight_decay_groups(
    params: List[Parameter], weight_decay: float, weight_decay_filter: str
) -> Tuple[Union[List[Parameter], List[dict]], float]:
    """(params, weight_decay) arguments for a MindSpore optimizer.

    - 'disable': every parameter decays (one group, so MindSpore's own filter is off).
    - 'auto': MindSpore's own filter: names containing 'gamma' or 'beta' (norm layers)
      do not decay; biases do.
    - 'norm_and_bias': norm-layer gamma/beta and biases do not decay.
    """
    if weight_decay_filter == "auto":
        return params, weight_decay
    if weight_decay_filter == "disable":
        decay, no_decay = params, []
    else:
        decay = [p for p in params if not is_norm_or_bias(p)]
        no_decay = [p for p in params if is_norm_or_bias(p)]
    groups = [{"params": group, "weight_decay": wd} for group, wd in ((decay, weight_decay), (no_decay, 0.0)) if group]
    return groups + [{"order_params": params}], 0.0
