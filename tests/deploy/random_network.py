"""The small network the deploy tests export: random weights, outputs of order one."""
import numpy as np

import mindspore as ms
from mindspore import nn
from mindcv import create_model

MODEL = "mobilenet_v2_050"
NUM_CLASSES = 10
IMAGE_SHAPE = (3, 64, 64)


def random_network(seed: int = 0, model: str = MODEL) -> nn.Cell:
    """An eval-mode `model` with random weights and BN statistics.

    Convs get He init over fan-in (not the model's fan-out), so the signal survives
    the depthwise layers and the logits depend on the input.
    """
    net = create_model(model, num_classes=NUM_CLASSES)
    rng = np.random.default_rng(seed)
    draws = {
        "gamma": lambda shape: rng.uniform(0.5, 1.5, shape),
        "beta": lambda shape: rng.normal(0.0, 0.2, shape),
        "moving_mean": lambda shape: rng.normal(0.0, 0.2, shape),
        "moving_variance": lambda shape: rng.uniform(0.5, 2.0, shape),
    }
    for name, param in net.parameters_and_names():
        kind = name.rsplit(".", 1)[-1]
        if kind in draws:
            value = draws[kind](param.shape)
        elif len(param.shape) == 4:
            value = rng.normal(0.0, np.sqrt(2.0 / np.prod(param.shape[1:])), param.shape)
        elif name.startswith("classifier.1."):
            value = rng.normal(0.0, 1.0 / np.sqrt(param.shape[-1]), param.shape)
        else:
            continue
        param.set_data(ms.Tensor(value.astype(np.float32)))
    net.set_train(False)
    return net
