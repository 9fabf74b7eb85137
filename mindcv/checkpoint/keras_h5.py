"""Read Keras MobileNetV2 weight files as a flat, PyTorch-shaped state dict.

Two HDF5 layouts exist:

- legacy (Keras 2, and the `mobilenet_v2_weights_tf_dim_ordering_tf_kernels_<alpha>_<size>.h5`
  files keras.applications distributes; also whole models saved as .h5): attribute
  `layer_names`, one group per layer whose attribute `weight_names` lists its datasets;
- Keras 3 `.weights.h5`: `layers/<object name>/vars/0, 1, ...`, the Keras layer name in
  the `name` attribute of `vars`.

Both are read into `<layer>.weight` (kernels as [out, in, kh, kw], depthwise as
[channels, 1, kh, kw], dense as [out, in]), `<layer>.bias` and `<layer>.{gamma, beta,
moving_mean, moving_variance}`, with Keras' layer names: mindcv.convert's
KERAS layout renames them. h5py reads the file; no Keras or TensorFlow is needed.
"""
from pathlib import Path
from typing import Dict, List

import numpy as np

from ..errors import CheckpointError
from .io import PathLike

KERAS_BN = ("gamma", "beta", "moving_mean", "moving_variance")  # the order Keras creates them in
# keras.applications names the first block (t = 1) `expanded_conv` and the others `block_<i>`;
# Keras 2's classifier is `Logits`, later ones `predictions`.
_RENAMED_PREFIXES = {"expanded_conv_": "block_0_", "Logits": "predictions"}


def _text(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _legacy_layers(root) -> Dict[str, List[np.ndarray]]:
    layers = {}
    for layer in root.attrs["layer_names"]:
        group = root[_text(layer)]
        layers[_text(layer)] = [np.asarray(group[_text(name)]) for name in group.attrs.get("weight_names", [])]
    return layers


def _keras3_layers(root) -> Dict[str, List[np.ndarray]]:
    layers = {}
    for key, group in root["layers"].items():
        variables = group.get("vars")
        if variables is None:
            continue
        name = _text(variables.attrs.get("name", key))
        layers[name] = [np.asarray(variables[str(i)]) for i in range(len(variables))]
    return layers


def read_keras_layers(path: PathLike) -> Dict[str, List[np.ndarray]]:
    """Keras layer name -> its weights in creation order, from a legacy .h5 or a Keras 3 .weights.h5 file."""
    import h5py  # a requirement of mindcv, imported here because only Keras files need it

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    try:
        with h5py.File(path, "r") as file:
            root = file["model_weights"] if "model_weights" in file else file  # a whole model saved as .h5
            if "layer_names" in root.attrs:
                layers = _legacy_layers(root)
            elif "layers" in root:
                layers = _keras3_layers(root)
            else:
                raise CheckpointError(f"{path}: an HDF5 file without Keras weights (no layer_names, no layers/)")
    except OSError as err:
        raise CheckpointError(f"{path}: not a readable HDF5 file ({err})") from err
    return {name: weights for name, weights in layers.items() if weights}


def _canonical(layer: str) -> str:
    for old, new in _RENAMED_PREFIXES.items():
        if layer.startswith(old):
            return new + layer[len(old):]
    return layer


def read_keras_state_dict(path: PathLike) -> Dict[str, np.ndarray]:
    """The weights of a Keras MobileNetV2 file, named and shaped for the KERAS layout (see module doc)."""
    state: Dict[str, np.ndarray] = {}
    for layer, weights in read_keras_layers(path).items():
        name = _canonical(layer)
        if len(weights) == len(KERAS_BN) and all(w.ndim == 1 for w in weights):
            state.update({f"{name}.{param}": w for param, w in zip(KERAS_BN, weights)})
        elif len(weights) == 1 and weights[0].ndim == 4:
            # Keras kernels are [kh, kw, in, out]; depthwise ones [kh, kw, channels, multiplier 1].
            axes = (2, 3, 0, 1) if name.endswith("depthwise") else (3, 2, 0, 1)
            state[f"{name}.weight"] = np.ascontiguousarray(weights[0].transpose(axes))
        elif len(weights) == 2 and weights[0].ndim == 2:
            state[f"{name}.weight"] = np.ascontiguousarray(weights[0].T)
            state[f"{name}.bias"] = weights[1]
        else:
            shapes = ", ".join(str(w.shape) for w in weights)
            raise CheckpointError(f"{path}: layer {layer} holds weights of shapes {shapes}: not a MobileNetV2 layer")
    return state
