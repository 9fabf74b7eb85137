"""Convert torchvision, timm and Keras MobileNetV2 weights into this package's checkpoints.

Command line::

    python -m mindcv.convert SRC DST [--model mobilenet_v2_140] [--layout auto|torchvision|timm|keras]

SRC is a PyTorch state dict (.pth/.pt, read with ``torch.load(weights_only=True)``,
which refuses pickled code), a .safetensors file (read with numpy, torch not
needed) or a Keras .h5 / .weights.h5 file (read with h5py, see keras_h5). DST is a
.ckpt or .safetensors checkpoint. The layout and the width are read from the
tensors unless given; the result is checked by loading it into
``create_model(..., checkpoint_path=DST)``. DST.yaml beside it is a config naming
the model, the checkpoint and the model's evaluation transforms (``validate.py -c DST.yaml``).
Keras weights become the ``tf_mobilenet_v2_*`` models: TensorFlow's SAME padding,
Keras' BatchNorm epsilon 1e-3, inputs scaled to [-1, 1].

BatchNorm: torch's weight/bias/running_mean/running_var are MindSpore's
gamma/beta/moving_mean/moving_variance; num_batches_tracked is dropped. torchvision,
timm and MindSpore all default to eps 1e-5, so inference is unchanged. Momentum
conventions are mirrored (torch 0.1 == MindSpore 0.9); that matters only for training.
"""
import pickle
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import Parameter
from safetensors import SafetensorError
from safetensors.numpy import load_file as load_safetensors

import yaml

from .checkpoint.io import PathLike, checkpoint_format
from .checkpoint.keras_h5 import KERAS_BN, read_keras_state_dict
from .errors import ArgumentParser, CheckpointError, MindCVError, exit_on_user_error
from .fileio import atomic_output, write_text_atomic
from .models import create_model, get_pretrained_cfg, is_model, list_models
from .models.layers import make_divisible
from .models.mobilenetv2 import HEAD_CHANNELS, INVERTED_RESIDUAL_SETTING, STEM_CHANNELS

ConvBN = Tuple[str, str]  # (conv module, the BatchNorm module after it)

TORCH_BN = ("weight", "bias", "running_mean", "running_var")
MINDSPORE_BN = ("gamma", "beta", "moving_mean", "moving_variance")
TORCH_SUFFIXES = (".pth", ".pt", ".bin")
KERAS_SUFFIX = ".h5"  # also Keras 3's .weights.h5
DROPPED_SUFFIX = ".num_batches_tracked"  # torch's BN step counter, no MindSpore counterpart


@dataclass(frozen=True)
class Layout:
    """Where one implementation keeps MobileNetV2's weights.

    `block` is formatted with `feature` (first_block + running block index), `stage`
    (row of the paper's table) and `index` (block within the stage); `head` with
    `feature` and `next` for the positions right after the last block.
    `expand` lists the (conv, BN) units of a block with an expansion conv, `plain`
    those of a block without (t = 1).
    """

    stem: ConvBN
    first_block: int
    block: str
    expand: Tuple[ConvBN, ...]
    plain: Tuple[ConvBN, ...]
    head: ConvBN
    classifier: str
    bn_params: Tuple[str, str, str, str] = TORCH_BN
    model_prefix: str = "mobilenet_v2"  # the models these weights compute right in


# This package's (and MindCV's) names: ReLU6 cells take the indices skipped here.
MINDCV = Layout(
    stem=("features.0", "features.1"),
    first_block=3,
    block="features.{feature}.layers.",
    expand=(("0", "1"), ("3", "4"), ("6", "7")),
    plain=(("0", "1"), ("3", "4")),
    head=("features.{feature}", "features.{next}"),
    classifier="classifier.1",
    bn_params=MINDSPORE_BN,
)
# torchvision.models.mobilenet_v2: Conv2dNormActivation blocks hold conv at .0, BN at .1.
TORCHVISION = Layout(
    stem=("features.0.0", "features.0.1"),
    first_block=1,
    block="features.{feature}.conv.",
    expand=(("0.0", "0.1"), ("1.0", "1.1"), ("2", "3")),
    plain=(("0.0", "0.1"), ("1", "2")),
    head=("features.{feature}.0", "features.{feature}.1"),
    classifier="classifier.1",
)
# timm's mobilenetv2_*: EfficientNet with blocks.<stage>.<block>; the t = 1 block is a
# DepthwiseSeparableConv (depthwise first), the others InvertedResidual.
TIMM = Layout(
    stem=("conv_stem", "bn1"),
    first_block=0,
    block="blocks.{stage}.{index}.",
    expand=(("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")),
    plain=(("conv_dw", "bn1"), ("conv_pw", "bn2")),
    head=("conv_head", "bn2"),
    classifier="classifier",
)
# keras.applications' MobileNetV2 layer names as keras_h5 reads them (the first block's
# `expanded_conv_` as `block_0_`); TensorFlow-trained, so into the tf_ models.
KERAS = Layout(
    stem=("Conv1", "bn_Conv1"),
    first_block=0,
    block="block_{feature}_",
    expand=(("expand", "expand_BN"), ("depthwise", "depthwise_BN"), ("project", "project_BN")),
    plain=(("depthwise", "depthwise_BN"), ("project", "project_BN")),
    head=("Conv_1", "Conv_1_bn"),
    classifier="predictions",
    bn_params=KERAS_BN,
    model_prefix="tf_mobilenet_v2",
)
SOURCE_LAYOUTS: Dict[str, Layout] = {"torchvision": TORCHVISION, "timm": TIMM, "keras": KERAS}
# keras.applications' file names end in _<alpha>_<input size>[_no_top].h5.
KERAS_FILE_SIZE = re.compile(r"_\d\.\d+_(\d+)(?:_no_top)?\.h5$")


def layout_names(layout: Layout) -> List[str]:
    """Every parameter name of MobileNetV2 in `layout`, in forward order.

    Names at the same position in two layouts are the same tensor, so zipping the
    lists of two layouts gives the renaming between them.
    """
    names: List[str] = []

    def add_unit(conv: str, bn: str) -> None:
        names.append(f"{conv}.weight")
        names.extend(f"{bn}.{param}" for param in layout.bn_params)

    add_unit(*layout.stem)
    feature = layout.first_block
    for stage, (expansion, _, repeats, _) in enumerate(INVERTED_RESIDUAL_SETTING):
        for index in range(repeats):
            prefix = layout.block.format(feature=feature, stage=stage, index=index)
            for conv, bn in layout.expand if expansion != 1 else layout.plain:
                add_unit(prefix + conv, prefix + bn)
            feature += 1
    add_unit(*(name.format(feature=feature, next=feature + 1) for name in layout.head))
    names += [f"{layout.classifier}.weight", f"{layout.classifier}.bias"]
    return names


def rename_map(layout: Layout) -> Dict[str, str]:
    """Source parameter name -> this package's name."""
    return dict(zip(layout_names(layout), layout_names(MINDCV)))


def _unwrap(state: object, source: str) -> Dict[str, object]:
    """The state dict inside common training-checkpoint wrappers, without DataParallel's `module.`."""
    if isinstance(state, dict):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not state:
        raise CheckpointError(f"{source}: holds no state dict (a name -> tensor mapping)")
    if all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def read_state_dict(path: PathLike) -> Dict[str, np.ndarray]:
    """Tensors of a PyTorch state dict (.pth/.pt/.bin), a .safetensors or a Keras .h5 file, as numpy arrays."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: file not found")
    if path.suffix == KERAS_SUFFIX:
        return read_keras_state_dict(path)
    if path.suffix == ".safetensors":
        try:
            return load_safetensors(str(path))
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{path}: not a readable safetensors file ({err})") from err
    if path.suffix not in TORCH_SUFFIXES:
        raise CheckpointError(
            f"{path}: unknown weight file type (expected .safetensors, {KERAS_SUFFIX} or one of {', '.join(TORCH_SUFFIXES)})"
        )
    try:
        import torch
    except ImportError as err:
        raise CheckpointError(f"{path}: reading PyTorch files needs torch (pip install torch); a .safetensors copy does not") from err
    try:
        # weights_only refuses pickled code, so a hostile file cannot run anything.
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable weights-only PyTorch file ({str(err).splitlines()[0]})") from err
    state = _unwrap(state, str(path))
    tensors = {k: v.detach().cpu() for k, v in state.items() if isinstance(v, torch.Tensor)}
    # numpy has no bfloat16: floating tensors go through float32 (what the network uses anyway).
    return {k: (v.float() if v.is_floating_point() else v).numpy() for k, v in tensors.items()}


def _missing_and_unexpected(layout: Layout, keys: Sequence[str]) -> Tuple[List[str], List[str]]:
    expected = rename_map(layout)
    present = set(keys)
    missing = [k for k in expected if k not in present]
    unexpected = sorted(k for k in present if k not in expected and not k.endswith(DROPPED_SUFFIX))
    return missing, unexpected


def detect_layout(keys: Sequence[str], source: str = "weights") -> str:
    """The name of the source layout whose parameter names are exactly `keys`."""
    scores = {}
    for name, layout in SOURCE_LAYOUTS.items():
        missing, unexpected = _missing_and_unexpected(layout, keys)
        if not missing and not unexpected:
            return name
        scores[name] = (len(missing) + len(unexpected), missing, unexpected)
    closest = min(scores, key=lambda name: scores[name][0])
    _, missing, unexpected = scores[closest]
    raise CheckpointError(
        f"{source}: not a MobileNetV2 state dict in a known layout ({', '.join(SOURCE_LAYOUTS)}); "
        f"closest is {closest}: {_describe(missing, unexpected)}"
    )


def _describe(missing: List[str], unexpected: List[str]) -> str:
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unmatched (e.g. {', '.join(unexpected[:3])})")
    return "; ".join(parts)


def _channel_signature(width: float) -> Tuple[int, int, int]:
    """(stem, last block, head) output channels of MobileNetV2 at `width`: unique per width."""
    last_block = INVERTED_RESIDUAL_SETTING[-1][1]
    return (
        make_divisible(STEM_CHANNELS * width),
        make_divisible(last_block * width),
        make_divisible(HEAD_CHANNELS * max(1.0, width)),
    )


def detect_model(weights: Dict[str, np.ndarray], source: str = "weights", prefix: str = "mobilenet_v2") -> str:
    """The model name (`<prefix>_<width tag>`) whose channel counts match converted `weights`."""
    # In MindCV's names only convs and the classifier have a `.weight`: stem first, then
    # the blocks (the last block's projection third from the end), head conv, classifier.
    conv_weights = [name for name in layout_names(MINDCV) if name.endswith(".weight")]
    found = tuple(weights[conv_weights[i]].shape[0] for i in (0, -3, -2))
    for name in list_models(f"{prefix}_*"):
        tag = re.fullmatch(rf"{prefix}_(\d{{3}})", name)  # the plain width names: 035 = 0.35
        if tag and _channel_signature(int(tag.group(1)) / 100) == found:
            return name
    raise CheckpointError(f"{source}: no MobileNetV2 width has (stem, last block, head) channels {found}; pass --model")


@dataclass(frozen=True)
class ConversionSummary:
    """What `convert_weights` did."""

    source: Path
    destination: Path
    layout: str
    model: str
    num_classes: int
    in_channels: int
    num_tensors: int
    num_params: int
    dropped: Tuple[str, ...]
    config: Path
    background_dropped: bool = False

    def __str__(self) -> str:
        background = "; dropped the background class of a 1001-class head" if self.background_dropped else ""
        return (
            f"converted {self.source} ({self.layout} layout) -> {self.destination}\n"
            f"  model {self.model}, {self.num_classes} classes, {self.in_channels} input channels{background}\n"
            f"  {self.num_tensors} tensors, {self.num_params:,} values; dropped {len(self.dropped)} "
            f"BN step counters; verified by loading into create_model\n"
            f"  config {self.config} (validate.py -c {self.config} --data_dir DIR)"
        )


def convert_state_dict(
    state: Dict[str, np.ndarray], layout: str = "auto", source: str = "weights"
) -> Tuple[str, Dict[str, np.ndarray], List[str]]:
    """Rename a torchvision/timm/Keras state dict to this package's names.

    Returns (layout name, renamed float32 arrays, dropped keys).
    """
    if layout == "auto":
        layout = detect_layout(list(state), source)
    elif layout not in SOURCE_LAYOUTS:
        raise CheckpointError(f"{source}: unknown layout '{layout}' (choose auto, {', '.join(SOURCE_LAYOUTS)})")
    else:
        missing, unexpected = _missing_and_unexpected(SOURCE_LAYOUTS[layout], list(state))
        if missing or unexpected:
            raise CheckpointError(f"{source}: does not match the {layout} layout: {_describe(missing, unexpected)}")
    renamed = {ours: state[theirs].astype(np.float32) for theirs, ours in rename_map(SOURCE_LAYOUTS[layout]).items()}
    dropped = sorted(k for k in state if k.endswith(DROPPED_SUFFIX))
    return layout, renamed, dropped


def _verify(path: Path, model: str, weights: Dict[str, np.ndarray], num_classes: int, in_channels: int) -> None:
    """Load `path` through create_model and check every parameter arrived unchanged."""
    network = create_model(model, num_classes=num_classes, in_channels=in_channels, checkpoint_path=path)
    loaded = network.parameters_dict()
    if set(loaded) != set(weights):
        differ = sorted(set(loaded) ^ set(weights))
        raise CheckpointError(f"parameter names differ from {model}'s (e.g. {', '.join(differ[:3])})")
    changed = [name for name, param in loaded.items() if not np.array_equal(param.asnumpy(), weights[name])]
    if changed:
        raise CheckpointError(f"{len(changed)} parameters changed on loading into {model} (e.g. {changed[0]})")


def _model_name(weights: Dict[str, np.ndarray], source: Path, layout: Layout) -> str:
    """The width's model in the layout's family, at the input size a keras.applications file name gives."""
    name = detect_model(weights, str(source), layout.model_prefix)
    size = KERAS_FILE_SIZE.search(source.name)
    return f"{name}_{size.group(1)}" if size and is_model(f"{name}_{size.group(1)}") else name


def write_config(path: Path, model: str, checkpoint: Path, num_classes: int, in_channels: int) -> Path:
    """A config (config keys, as `-c` reads them) for validate.py / infer.py: the model, its checkpoint
    and the model's evaluation transforms, written out so the file says how the weights are fed."""
    cfg = get_pretrained_cfg(model)
    keys = {
        "model": model, "ckpt_path": str(checkpoint.resolve()), "num_classes": num_classes, "in_channels": in_channels,
        "image_resize": cfg.input_size[-1], "crop_pct": cfg.crop_pct, "interpolation": cfg.interpolation,
        "mean": list(cfg.mean), "std": list(cfg.std),
    }
    write_text_atomic(path, f"# written by python -m mindcv.convert\n{yaml.safe_dump(keys, sort_keys=False)}")
    return path


def convert_weights(
    source: PathLike, destination: PathLike, model: Optional[str] = None, layout: str = "auto"
) -> ConversionSummary:
    """Convert a torchvision/timm/Keras MobileNetV2 weight file into a .ckpt/.safetensors checkpoint.

    `model` (e.g. "mobilenet_v2_140") and `layout` ("torchvision", "timm", "keras") are
    read from the tensors when not given (Keras weights: a `tf_mobilenet_v2_*` model).
    The written file is verified by loading it into `create_model` before it takes its
    name; if that fails, a CheckpointError is raised and DST is left as it was. A config
    for the result is written beside it (DST with the suffix .yaml).
    """
    source, destination = Path(source), Path(destination)
    checkpoint_format(destination)  # refuse a bad DST name before the work
    layout, weights, dropped = convert_state_dict(read_state_dict(source), layout, str(source))
    model = model or _model_name(weights, source, SOURCE_LAYOUTS[layout])
    head = [f"{MINDCV.classifier}.weight", f"{MINDCV.classifier}.bias"]
    background_dropped = weights[head[0]].shape[0] == 1001
    if background_dropped:  # TensorFlow-slim's class 0 is "background"; ImageNet's 1000 follow it
        weights.update({name: weights[name][1:] for name in head})
    num_classes = weights[head[0]].shape[0]
    in_channels = weights[f"{MINDCV.stem[0]}.weight"].shape[1]
    params = {name: Parameter(ms.Tensor(value), name=name) for name, value in weights.items()}
    # Verified under the temporary name, so DST appears only when it loads (an old DST survives a failure).
    try:
        with atomic_output(destination) as unverified:
            ms.save_checkpoint(params, str(unverified), format=checkpoint_format(destination))
            _verify(unverified, model, weights, num_classes, in_channels)
    except MindCVError as err:
        raise CheckpointError(f"{source}: the converted weights do not load as {model}: {err}") from err
    config = write_config(destination.with_suffix(".yaml"), model, destination, num_classes, in_channels)
    return ConversionSummary(
        source=source,
        destination=destination,
        layout=layout,
        model=model,
        num_classes=num_classes,
        in_channels=in_channels,
        num_tensors=len(weights),
        num_params=sum(value.size for value in weights.values()),
        dropped=tuple(dropped),
        config=config,
        background_dropped=background_dropped,
    )


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = ArgumentParser(
        prog="python -m mindcv.convert",
        description="Convert torchvision/timm (.pth, .safetensors) or Keras (.h5, .weights.h5) MobileNetV2 weights "
        "to a MindSpore checkpoint and a config beside it.",
    )
    parser.add_argument("source", help="torchvision or timm state dict (.pth/.pt/.bin, .safetensors), or Keras weights (.h5)")
    parser.add_argument("destination", help="checkpoint to write: .ckpt or .safetensors")
    parser.add_argument("--model", default=None, help="model name, e.g. mobilenet_v2_140 (default: from the tensor shapes)")
    parser.add_argument("--layout", default="auto", choices=("auto", *SOURCE_LAYOUTS), help="source naming (default: detected)")
    args = parser.parse_args(argv)
    print(convert_weights(args.source, args.destination, args.model, args.layout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
