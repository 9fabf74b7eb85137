"""Run an exported model file (.onnx with onnxruntime, .mindir with MindSpore's GraphCell) on numpy batches."""
import importlib.util
import os
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple, Union

import mindspore as ms
import numpy as np
from mindspore import nn

from ..errors import MindCVError

PathLike = Union[str, os.PathLike]
MODEL_FILE_SUFFIXES = (".onnx", ".mindir")


def onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def _static(dims: Sequence) -> Tuple[Optional[int], ...]:
    """ONNX dimensions with symbolic or unknown ones as None."""
    return tuple(d if isinstance(d, int) and d > 0 else None for d in dims)


def _onnx_session(path: Path, threads: int = 0):
    if not onnxruntime_installed():
        raise MindCVError(f"{path}: running ONNX models needs onnxruntime (pip install onnxruntime)")
    import onnxruntime
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except (ort_errors.InvalidProtobuf, ort_errors.InvalidGraph, ort_errors.Fail, ort_errors.NotImplemented) as err:
        raise MindCVError(f"{path}: not a readable ONNX model ({str(err).splitlines()[0]})") from None


class ExportedModel:
    """An exported classifier as a function of a float32 NCHW batch, returning its outputs.

    A file with a static batch size (MindSpore exports ONNX so) runs in batches of exactly
    that size: a smaller or trailing batch is padded with zeros and the padding's outputs
    are dropped, so callers may pass any number of images.
    `batch_size`, `image_shape` (C, H, W) and `num_outputs` are None where the file leaves
    them dynamic or does not say (MINDIR).
    """

    def __init__(
        self,
        path: Path,
        run: Callable[[np.ndarray], np.ndarray],
        batch_size: Optional[int] = None,
        image_shape: Optional[Tuple[Optional[int], ...]] = None,
        num_outputs: Optional[int] = None,
    ) -> None:
        self.path = path
        self._run = run
        self.batch_size = batch_size
        self.image_shape = image_shape
        self.num_outputs = num_outputs

    @property
    def format(self) -> str:
        return self.path.suffix[1:]

    def check_input(self, image_shape: Tuple[int, int, int]) -> None:
        """A MindCVError unless the file takes images of `image_shape` (C, H, W)."""
        if self.image_shape and any(want not in (None, got) for want, got in zip(self.image_shape, image_shape)):
            wanted = "x".join("?" if d is None else str(d) for d in self.image_shape)
            raise MindCVError(
                f"{self.path}: takes {wanted} images, got {'x'.join(map(str, image_shape))} "
                f"(set image_resize / in_channels to the exported size)"
            )

    def probe(self, image_shape: Tuple[int, int, int]) -> int:
        """The number of outputs per image for images of `image_shape`; a MindCVError if the file refuses them."""
        self.check_input(image_shape)
        try:
            outputs = self(np.zeros((self.batch_size or 1, *image_shape), np.float32))
        except (RuntimeError, ValueError) as err:  # MindSpore's refusal of a shape the graph cannot take
            raise MindCVError(f"{self.path}: cannot run on {'x'.join(map(str, image_shape))} images ({str(err).splitlines()[0]})") from None
        return outputs.shape[-1]

    def __call__(self, images: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(images, dtype=np.float32)
        self.check_input(images.shape[1:])
        if self.batch_size is None:
            return self._run(images)
        outputs = []
        for start in range(0, len(images), self.batch_size):
            chunk = images[start:start + self.batch_size]
            real = len(chunk)
            if real < self.batch_size:
                padding = np.zeros((self.batch_size - real, *chunk.shape[1:]), np.float32)
                chunk = np.concatenate([chunk, padding])
            outputs.append(self._run(chunk)[:real])
        return np.concatenate(outputs)


def load_exported(path: PathLike, threads: int = 0) -> ExportedModel:
    """Open an exported model: MINDIR through nn.GraphCell, ONNX through onnxruntime (`threads`: 0 = its default).

    A missing file, another suffix or a file the runtime cannot read is a MindCVError naming it.
    """
    path = Path(path)
    if path.suffix not in MODEL_FILE_SUFFIXES:
        raise MindCVError(f"{path}: not a model file (expected {' or '.join(MODEL_FILE_SUFFIXES)})")
    if not path.is_file():
        raise MindCVError(f"{path}: exported model not found")
    if path.suffix == ".mindir":
        try:
            graph = nn.GraphCell(ms.load(str(path)))
        except (RuntimeError, ValueError) as err:
            raise MindCVError(f"{path}: not a readable MINDIR file ({str(err).splitlines()[0]})") from None
        return ExportedModel(path, lambda x: graph(ms.Tensor(x)).asnumpy())
    session = _onnx_session(path, threads)
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        raise MindCVError(f"{path}: not an image classifier (inputs {[i.shape for i in inputs]}; expected one NCHW batch)")
    name = inputs[0].name
    batch, *image_shape = _static(inputs[0].shape)
    num_outputs = _static(outputs[0].shape)[-1] if len(outputs[0].shape) == 2 else None
    return ExportedModel(path, lambda x: session.run(None, {name: x})[0], batch, tuple(image_shape), num_outputs)
