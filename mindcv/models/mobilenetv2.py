"""MobileNetV2: inverted residuals and linear bottlenecks (Sandler et al., 2018).

Parameter names follow MindCV, so its published checkpoints load unchanged.
"""
import math

from mindspore import Tensor, nn
from mindspore.common.initializer import Normal, One, Zero, initializer

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

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        hidden = round(in_channels * expand_ratio)
        self.use_residual = stride == 1 and in_channels == out_channels
        layers = []
        if expand_ratio != 1:
            layers += conv_norm_act(in_channels, hidden, 1)
        layers += conv_norm_act(hidden, hidden, 3, stride, groups=hidden)
        layers += conv_norm_act(hidden, out_channels, 1, activation=False)
        self.layers = nn.SequentialCell(layers)

    def construct(self, x: Tensor) -> Tensor:
        if self.use_residual:
            return x + self.layers(x)
        return self.layers(x)


class MobileNetV2(nn.Cell):
    """MobileNetV2 with width multiplier `width_mult`.

    `features` holds stem, blocks and head conv in one flat SequentialCell; the
    classifier is dropout + dense. `num_classes=0` leaves pooled features.
    """

    def __init__(
        self,
        width_mult: float = 1.0,
        num_classes: int = 1000,
        in_channels: int = 3,
        drop_rate: float = 0.2,
    ) -> None:
        super().__init__()
        if width_mult <= 0:
            raise ValueError(f"width_mult must be positive, got {width_mult}")
        if in_channels < 1 or num_classes < 0:
            raise ValueError(f"bad in_channels={in_channels} or num_classes={num_classes}")
        channels = make_divisible(STEM_CHANNELS * width_mult)
        features = conv_norm_act(in_channels, channels, 3, stride=2)
        for t, c, n, s in INVERTED_RESIDUAL_SETTING:
            out_channels = make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(channels, out_channels, s if i == 0 else 1, t))
                channels = out_channels
        self.num_features = make_divisible(HEAD_CHANNELS * max(1.0, width_mult))
        features += conv_norm_act(channels, self.num_features, 1)
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


def _mobilenet_v2(width_mult: float, **kwargs) -> MobileNetV2:
    return MobileNetV2(width_mult=width_mult, **kwargs)


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


def _register_variants() -> None:
    for tag, (width, url) in _WIDTHS.items():
        cfg = PretrainedCfg(url=url)
        register_model(lambda w=width, **kw: _mobilenet_v2(w, **kw), f"mobilenet_v2_{tag}", cfg)
        for size in _RESOLUTION_VARIANTS.get(tag, ()):
            # Only the 224 variant shares the plain name's weights.
            sized = PretrainedCfg(url=url if size == 224 else "", input_size=(3, size, size))
            name = f"mobilenet_v2_{tag}_{size}"
            register_model(lambda w=width, **kw: _mobilenet_v2(w, **kw), name, sized)


_register_variants()
