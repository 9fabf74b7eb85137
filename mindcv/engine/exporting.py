"""export: a trained model, described by its config, to MINDIR and/or ONNX, optionally checked and int8-quantized."""
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from ..config import Option, RunConfig
from ..deploy import EXPORT_FORMATS, CheckResult, check_exported, export_network, fold_batchnorm, onnxruntime_installed
from ..errors import ConfigError
from . import builders
from .quantization import QuantizationReport, calibration_images, quantize_export

# export.py's own options, beside the config keys (mindcv.config.parse_config(extra_options=...)).
EXPORT_OPTIONS = (
    Option("format", "str", "mindir", "file format", "export", choices=(*EXPORT_FORMATS, "both")),
    Option("output", "str", "", "file stem; the format adds its suffix (default: the model name)", "export"),
    Option("onnx_batch_size", "int", 1, "ONNX batch size (ONNX is exported with a static batch; MINDIR's is dynamic)", "export", bounds="positive"),
    Option("fold_bn", "bool", True, "fold BatchNorm into the preceding convolutions", "export"),
    Option("check", "bool", False, "run the exported file and compare it with the network (exit code 1 if it differs)", "export"),
)
MINDIR_CHECK_BATCH_SIZES = (1, 3)  # two sizes show the dynamic batch works


@dataclass
class ExportedFile:
    path: Path
    description: str
    checks: List[CheckResult] = field(default_factory=list)
    check_skipped: str = ""


@dataclass
class ExportReport:
    files: List[ExportedFile] = field(default_factory=list)
    int8: Optional[QuantizationReport] = None

    @property
    def passed(self) -> bool:
        return all(result.ok for file in self.files for result in file.checks)

    def lines(self) -> List[str]:
        out = []
        for file in self.files:
            out.append(f"wrote {file.path} ({file.description})")
            out += [f"  {result}" for result in file.checks]
            if file.check_skipped:
                out.append(f"  check skipped: {file.check_skipped}")
        if self.int8:
            out.append(str(self.int8))
        return out


def export(cfg: RunConfig) -> ExportReport:
    """Export the weights in `cfg` at the evaluation input size (image_resize, or the model's).

    With the QUANTIZE_OPTIONS' `quantize` int8, the ONNX file is also quantized, calibrated on
    images read (before anything is exported) through the evaluation transforms of `cfg`.
    """
    options, model = cfg.options, cfg.model
    calibration = None
    if options["quantize"]:
        if options["format"] == "mindir" or not options["fold_bn"]:
            raise ConfigError("quantize int8 quantizes the BatchNorm-folded ONNX export: use --format onnx or both, with fold_bn")
        calibration = calibration_images(options["calib_data"], options["calib_split"], options["calib_samples"], cfg.eval)
    builders.setup_context(cfg.system)
    network = builders.build_model(model, strict_head=True)
    network.set_train(False)
    image_shape = (model.in_channels, cfg.eval.image_resize, cfg.eval.image_resize)
    exported = fold_batchnorm(network) if options["fold_bn"] else network
    formats = list(EXPORT_FORMATS) if options["format"] == "both" else [options["format"]]
    report = ExportReport()
    for file_format in formats:
        path = export_network(exported, options["output"] or model.model, file_format, image_shape, options["onnx_batch_size"])
        batch = "dynamic batch" if file_format == "mindir" else f"batch {options['onnx_batch_size']}"
        file = ExportedFile(path, f"{batch}, input {image_shape}, BatchNorm {'folded' if options['fold_bn'] else 'kept'}")
        report.files.append(file)
        if not options["check"]:
            continue
        if file_format == "onnx" and not onnxruntime_installed():
            file.check_skipped = "onnxruntime is not installed"
            continue
        batch_sizes = MINDIR_CHECK_BATCH_SIZES if file_format == "mindir" else (options["onnx_batch_size"],)
        file.checks = check_exported(network, path, image_shape, batch_sizes)
    if calibration is not None:
        onnx_path = next(file.path for file in report.files if file.path.suffix == EXPORT_FORMATS["onnx"][1])
        report.int8 = quantize_export(onnx_path, calibration, options["calib_method"], options["check"])
    return report
