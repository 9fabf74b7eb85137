"""create_optimizer: MindSpore optimizers by MindCV's names and arguments."""
from numbers import Real
from typing import Iterable, List, Sequence, Union

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn

from ..errors import ConfigError, did_you_mean
from .adamw import LossScaledAdamWeightDecay
from .param_groups import WEIGHT_DECAY_FILTERS, weight_decay_groups

OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw", "lamb")


def create_optimizer(
    params_or_model: Union[nn.Cell, Iterable[Parameter]],
    opt: str = "momentum",
    lr: Union[float, Sequence[float], np.ndarray, Tensor] = 1e-3,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
    nesterov: bool = False,
    weight_decay_filter: str = "disable",
    loss_scale: float = 1.0,
    eps: float = 1e-10,
    beta1: float = 0.9,
    beta2: float = 0.999,
    **kwargs,
) -> nn.Optimizer:
    """Build optimizer `opt` (any case) over a network's trainable parameters or a list of them.

    - sgd: `nn.SGD` with `momentum` (0 for plain SGD) and `nesterov`.
    - momentum: `nn.Momentum`. With `nesterov=True`, or as opt 'nesterov', Nesterov's
      variant (built as `nn.SGD`, whose update is otherwise the same).
    - rmsprop: `nn.RMSProp` with `momentum`, `eps` and decay 0.9 (the paper's recipe).
    - adam: `nn.Adam` (L2 weight decay added to the gradient); adamw: `nn.AdamWeightDecay`
      (decoupled decay, no bias correction); lamb: `nn.Lamb` (no CPU kernel in MindSpore 2.10).

    `lr` is a float or one value per step (e.g. from `create_scheduler`).
    `weight_decay_filter` picks the parameters that decay: 'disable' (all), 'auto'
    (MindSpore's default: all but norm-layer gamma/beta) or 'norm_and_bias' (all but
    norm-layer gamma/beta and biases). Gradients are divided by `loss_scale` (set it to the
    fixed loss scale that multiplied the loss). `nesterov` applies to sgd and momentum;
    `eps`, `beta1`, `beta2` to the adaptive optimizers; other keyword arguments go to the
    MindSpore class (e.g. rmsprop's `decay`, `centered`).
    """
    name = _choice("opt", str(opt).lower(), OPTIMIZER_NAMES)
    _choice("weight_decay_filter", weight_decay_filter, WEIGHT_DECAY_FILTERS)
    params = _trainable(params_or_model)
    for arg, value in (("weight_decay", weight_decay), ("momentum", momentum), ("eps", eps)):
        if not isinstance(value, Real) or value < 0:
            raise ConfigError(f"{arg} must be a number >= 0, got {value!r}")
    if not isinstance(loss_scale, Real) or loss_scale <= 0:
        raise ConfigError(f"loss_scale must be a number > 0, got {loss_scale!r}")
    if name == "lamb":
        if ms.get_context("device_target") == "CPU":
            raise ConfigError("opt 'lamb': MindSpore has no Lamb kernel for the CPU; use 'adamw' or an Ascend/GPU")
        if loss_scale != 1.0:
            raise ConfigError(f"opt 'lamb' cannot undo loss_scale={loss_scale}; use a loss scale cell that unscales")

    if name == "nesterov" or (name == "momentum" and nesterov):
        # nn.SGD gives the same update as nn.Momentum (dampening 0, velocity starts at the
        # gradient), and MindSpore 2.10's CPU Momentum kernel ignores use_nesterov
        name, nesterov = "sgd", True
    grouped, weight_decay = weight_decay_groups(params, float(weight_decay), weight_decay_filter)
    common = {"params": grouped, "learning_rate": _learning_rate(lr), "weight_decay": weight_decay}
    scaled = {**common, "loss_scale": float(loss_scale)}
    adaptive = {"beta1": float(beta1), "beta2": float(beta2), "eps": float(eps)}
    momentum = float(momentum)
    builders = {
        "sgd": (nn.SGD, {**scaled, "momentum": momentum, "nesterov": nesterov}),
        "momentum": (nn.Momentum, {**scaled, "momentum": momentum}),
        "rmsprop": (nn.RMSProp, {**scaled, "momentum": momentum, "epsilon": float(eps)}),
        "adam": (nn.Adam, {**scaled, **adaptive}),
        "adamw": (LossScaledAdamWeightDecay, {**scaled, **adaptive}),
        "lamb": (nn.Lamb, {**common, **adaptive}),
    }
    optimizer_cls, args = builders[name]
    try:
        return optimizer_cls(**args, **kwargs)
    except (TypeError, ValueError) as err:  # MindSpore's own checks of the arguments
        raise ConfigError(f"opt '{opt}' ({optimizer_cls.__name__}): {err}") from err


def _choice(arg: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ConfigError(f"unknown {arg} '{value}'{did_you_mean(value, choices)} (choose from {', '.join(choices)})")
    return value


def _trainable(params_or_model: Union[nn.Cell, Iterable[Parameter]]) -> List[Parameter]:
    if isinstance(params_or_model, nn.Cell):
        params = params_or_model.trainable_params()
    else:
        params = list(params_or_model)
        if not all(isinstance(p, Parameter) for p in params):
            raise ConfigError("create_optimizer takes a network (nn.Cell) or a list of Parameters")
    if not params:
        raise ConfigError("the network has no trainable parameters to optimize")
    return params


def _learning_rate(lr: Union[float, Sequence[float], np.ndarray, Tensor]) -> Union[float, Tensor]:
    """A float, or a 1-D float32 Tensor of per-step values (MindSpore's dynamic learning rate)."""
    if isinstance(lr, Real):
        values = np.array([lr], np.float64)
    else:
        values = lr.asnumpy() if isinstance(lr, Tensor) else np.asarray(lr, np.float64)
    if values.ndim != 1 or values.size == 0 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ConfigError(f"lr must be a number >= 0 or a non-empty list of them, got {lr!r}")
    return float(lr) if isinstance(lr, Real) else Tensor(values, ms.float32)
