"""Export a model to MINDIR (dynamic batch) and/or ONNX (static batch), optionally checked and int8-quantized.

    python export.py -c configs/mobilenetv2/mobilenetv2_100_demo_cpu.yaml --ckpt_path ckpt/demo/best.ckpt --format both --check
    python export.py --model mobilenet_v2_075 --ckpt_path w.ckpt --format onnx --onnx_batch_size 8 --image_resize 192
    python export.py -c CONFIG --ckpt_path w.ckpt --format onnx --quantize int8 --calib_data DIR --check

Options beside the config keys: --format mindir|onnx|both, --output STEM, --onnx_batch_size N, --fold_bn BOOL, --check;
--quantize int8, --calib_data DIR, --calib_split S, --calib_samples N, --calib_method minmax|entropy|percentile.
"""
import sys

from mindcv.config import parse_config
from mindcv.engine.exporting import EXPORT_OPTIONS, export
from mindcv.engine.quantization import QUANTIZE_OPTIONS
from mindcv.errors import exit_on_user_error


@exit_on_user_error
def main(argv=None) -> int:
    cfg = parse_config(argv, description="Export a mindcv model to MINDIR and/or ONNX", extra_options=EXPORT_OPTIONS + QUANTIZE_OPTIONS)
    report = export(cfg)
    print("\n".join(report.lines()))
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
