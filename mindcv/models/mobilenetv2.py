"""MobileNetV2: inverted residuals and linear bottlenecks (Sandler et al., 2018).

Parameter names follow MindCV, so its published checkpoints load unchanged.
"""
import math
from typing import Callable, Dict, List

from mindspore import Tensor, nn
from mindspore.common.initializer import Normal, One, Zero, initializer

from ..constants import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD
from .factory import build_model_with_cfg
from .dropout import Dropout
from .layers import conv_norm_act, make_divisible
from .registry import PretrainedCfg, register_model

# (expansion t, output channels c, repeats n, stride s of the first block): the paper's Table 2.
INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


class InvertedResidual(nn.Cell):
    """1x1 expand (skipped when t = 1), 3x3 depthwise, 1x1 linear projection."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, expand_ratio: int, pad_type: str = "", bn_eps: float = 1e-5
    ) -> None:
        super().__init__()
        hidden = round(in_channels * expand_ratio)
        self.use_residual = stride == 1 and in_channels == out_channels
        layer_options = {"pad_type": pad_type, "bn_eps": bn_eps}
        layers = []
        if expand_ratio != 1:
            layers += conv_norm_act(in_channels, hidden, 1, **layer_options)
        layers += conv_norm_act(hidden, hidden, 3, stride, groups=hidden, **layer_options)
        layers += conv_norm_act(hidden, out_channels, 1, activation=False, **layer_options)
        self.layers = nn.SequentialCell(layers)

    def construct(self, x: Tensor) -> Tensor:
        if self.use_residual:
            return x + self.layers(x)
        return self.layers(x)


def _stage(channels: int, reduction: int, features: list) -> dict:
    """A feature_info entry for the output of the last cell in `features` so far."""
    return {"chs": channels, "reduction": reduction, "name": f"features.{len(features) - 1}"}


class MobileNetV2(nn.Cell):
    """MobileNetV2 with width multiplier `width_mult`.

    `features` holds stem, blocks and head conv in one flat SequentialCell; the
    classifier is dropout + dense. `num_classes=0` leaves pooled features.
    `feature_info` has one entry per stage output (the stem, each inverted residual
    block, the head conv): its channels `chs`, its stride `reduction` and the `name`
    of the cell that produces it, as MindCV's.
    `pad_type="same"` pads as TensorFlow's SAME and `bn_eps` sets the BatchNorm epsilon,
    for weights trained in TensorFlow/Keras (the `tf_` names set both); parameter names
    do not change.
    """

    def __init__(
        self,
        width_mult: float = 1.0,
        num_classes: int = 1000,
        in_channels: int = 3,
        drop_rate: float = 0.2,
        pad_type: str = "",
        bn_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if width_mult <= 0:
            raise ValueError(f"width_mult must be positive, got {width_mult}")
        if in_channels < 1 or num_classes < 0:
            raise ValueError(f"bad in_channels={in_channels} or num_classes={num_classes}")
        layer_options = {"pad_type": pad_type, "bn_eps": bn_eps}
        channels = make_divisible(STEM_CHANNELS * width_mult)
        features = conv_norm_act(in_channels, channels, 3, stride=2, **layer_options)
        reduction = 2
        self.feature_info = [_stage(channels, reduction, features)]
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            out_channels = make_divisible(c * width_mult)
            for i in range(n):
                stride = s if i == 0 else 1
                features.append(InvertedResidual(channels, out_channels, stride, t, **layer_options))
                channels, reduction = out_channels, reduction * stride
                self.feature_info.append(_stage(channels, reduction, features))
        self.num_features = make_divisible(HEAD_CHANNELS * max(1.0, width_mult))
        features += conv_norm_act(channels, self.num_features, 1, **layer_options)
        self.feature_info.append(_stage(self.num_features, reduction, features))
        self.features = nn.SequentialCell(features)
        self.drop_rate = drop_rate
        self.reset_classifier(num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for _, cell in self.cells_and_names():
            if isinstance(cell, nn.Conv2d):
                k_h, k_w = cell.kernel_size
                std = math.sqrt(2.0 / (k_h * k_w * cell.out_channels))
                cell.weight.set_data(initializer(Normal(std), cell.weight.shape, cell.weight.dtype))
            elif isinstance(cell, nn.BatchNorm2d):
                cell.gamma.set_data(initializer(One(), cell.gamma.shape, cell.gamma.dtype))
                cell.beta.set_data(initializer(Zero(), cell.beta.shape, cell.beta.dtype))
            elif isinstance(cell, nn.Dense):
                cell.weight.set_data(initializer(Normal(0.01), cell.weight.shape, cell.weight.dtype))
                cell.bias.set_data(initializer(Zero(), cell.bias.shape, cell.bias.dtype))

    def get_classifier(self) -> nn.Cell:
        return self.classifier

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head with a freshly initialised one for `num_classes` (0: no head)."""
        self.num_classes = num_classes
        head = nn.Dense(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        if isinstance(head, nn.Dense):
            head.weight.set_data(initializer(Normal(0.01), head.weight.shape, head.weight.dtype))
            head.bias.set_data(initializer(Zero(), head.bias.shape, head.bias.dtype))
        self.classifier = nn.SequentialCell([Dropout(p=self.drop_rate), head])
        # A replaced cell keeps its old parameter prefix unless names are refreshed.
        self.classifier.update_parameters_name("classifier.")

    def forward_features(self, x: Tensor) -> Tensor:
        return self.features(x)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        x = x.mean(axis=(2, 3))
        if pre_logits:
            return x
        return self.classifier(x)

    def construct(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))


_MINDCV_URL = "https://download.mindspore.cn/toolkits/mindcv/mobilenet/mobilenetv2/"
# Width tag -> (multiplier, MindCV's published ImageNet weights or "").
_WIDTHS = {
    "035": (0.35, ""),
    "050": (0.5, ""),
    "075": (0.75, _MINDCV_URL + "mobilenet_v2_075-bd7bd4c4.ckpt"),
    "100": (1.0, _MINDCV_URL + "mobilenet_v2_100-d5532038.ckpt"),
    "130": (1.3, ""),
    "140": (1.4, _MINDCV_URL + "mobilenet_v2_140-98776171.ckpt"),
}
# MindCV's resolution names build the same network; the input size lives in the config.
_RESOLUTION_VARIANTS = {
    "035": (224, 192, 160, 128, 96),
    "050": (224, 192, 160, 128, 96),
    "075": (224, 192, 160, 128, 96),
    "100": (224, 192, 160, 128, 96),
    "130": (224,),
}


# Name prefix -> (network options, config shared by its widths, whether MindCV's published weights apply).
_FAMILIES = {
    "mobilenet_v2": ({}, PretrainedCfg(), True),
    # For TensorFlow/Keras weights (python -m mindcv.convert), as timm's tf_ variants:
    # SAME padding, Keras' BatchNorm epsilon, inputs scaled to [-1, 1] (keras.applications' preprocessing).
    "tf_mobilenet_v2": (
        {"pad_type": "same", "bn_eps": 1e-3},
        PretrainedCfg(mean=IMAGENET_INCEPTION_MEAN, std=IMAGENET_INCEPTION_STD),
        False,
    ),
}


def _entrypoint(name: str, width_mult: float, image_size: int, options: Dict[str, object]) -> Callable[..., nn.Cell]:
    """MindCV's entry-point function `name(pretrained=False, num_classes=1000, in_channels=3, **kwargs)`;
    `options` are the family's network options (call kwargs override them)."""

    def entrypoint(pretrained: bool = False, num_classes: int = 1000, in_channels: int = 3, **kwargs) -> nn.Cell:
        return build_model_with_cfg(
            MobileNetV2, name, pretrained, num_classes, in_channels, width_mult=width_mult, **{**options, **kwargs}
        )

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = __name__
    with_options = "".join(f", {key}={value!r}" for key, value in options.items())
    entrypoint.__doc__ = f"MobileNetV2 with width {width_mult:g}{with_options} for {image_size} px images (see MobileNetV2, create_model)."
    return entrypoint


def _register_variants() -> List[str]:
    """Register every family, width and resolution name; each becomes a function of this module. Returns the names."""
    names = []
    for prefix, (options, base_cfg, mindcv_weights) in _FAMILIES.items():
        for tag, (width, url) in _WIDTHS.items():
            sizes = [(f"{prefix}_{tag}", 224)] + [(f"{prefix}_{tag}_{size}", size) for size in _RESOLUTION_VARIANTS.get(tag, ())]
            for name, size in sizes:
                # Only the 224 px variants share the published weights.
                cfg = base_cfg.with_updates(url=url if mindcv_weights and size == 224 else "", input_size=(3, size, size))
                globals()[name] = register_model(_entrypoint(name, width, size, options), name, cfg)
                names.append(name)
    return names


ENTRYPOINT_NAMES = tuple(_register_variants())
