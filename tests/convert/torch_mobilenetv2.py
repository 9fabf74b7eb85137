"""The plain-torch MobileNetV2 (benchmarks/torch_mobilenetv2.py) with random weights for conversion tests."""
import torch
from torch import nn

from benchmarks.torch_mobilenetv2 import SETTING, TorchMobileNetV2

__all__ = ["SETTING", "TorchMobileNetV2", "random_model"]


def random_model(width: float, num_classes: int, seed: int) -> TorchMobileNetV2:
    """An eval-mode model with random weights and random BN statistics.

    The scales keep activations of order one through all blocks, so logits are
    far from zero and a 1e-4 comparison means something.
    """
    torch.manual_seed(seed)
    model = TorchMobileNetV2(width, num_classes)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.2)
                module.running_mean.normal_(0.0, 0.2)
                module.running_var.uniform_(0.5, 2.0)
                module.num_batches_tracked.fill_(1000)
            elif isinstance(module, nn.Linear):
                module.weight.normal_(0.0, 1.0 / module.in_features**0.5)
                module.bias.normal_(0.0, 0.1)
    return model.eval()
