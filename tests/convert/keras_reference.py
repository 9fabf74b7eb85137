"""Keras 3's own MobileNetV2 (keras.applications, on its torch backend: no TensorFlow) as the reference
for the Keras weight conversion: random weights and BatchNorm statistics, saved in both HDF5 layouts."""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # read when keras is first imported

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402

assert keras.backend.backend() == "torch", "the Keras tests need KERAS_BACKEND=torch (or unset)"


def random_keras_mobilenet_v2(alpha: float, input_shape, classes: int, seed: int) -> keras.Model:
    """keras.applications.MobileNetV2 returning logits, with random weights and BN statistics.

    Kernels get He init over fan-in, so the signal neither vanishes nor explodes through
    the blocks and the logits depend on the input; BN statistics are far from (0, 1).
    """
    model = keras.applications.MobileNetV2(
        input_shape=input_shape, alpha=alpha, weights=None, classes=classes, classifier_activation=None
    )
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        weights = layer.get_weights()
        if isinstance(layer, keras.layers.BatchNormalization):
            c = weights[0].shape
            weights = [rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c), rng.normal(0, 0.2, c), rng.uniform(0.5, 2.0, c)]
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            weights = [rng.normal(0, np.sqrt(2.0 / 9), weights[0].shape)]
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, fan_in, _ = weights[0].shape
            weights = [rng.normal(0, np.sqrt(2.0 / (kh * kw * fan_in)), weights[0].shape)]
        elif isinstance(layer, keras.layers.Dense):
            weights = [rng.normal(0, 1 / np.sqrt(weights[0].shape[0]), weights[0].shape), rng.normal(0, 0.1, weights[1].shape)]
        layer.set_weights([w.astype(np.float32) for w in weights])
    return model


def save_legacy_h5(model: keras.Model, path) -> None:
    """The layout of the .h5 files keras.applications distributes (layer_names / weight_names)."""
    with h5py.File(path, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, model)


def keras_logits(model: keras.Model, images_nchw: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(images_nchw.transpose(0, 2, 3, 1), training=False))
