"""Export a model to MINDIR (dynamic batch) and/or ONNX (static batch), optionally checked and int8-quantized.

    python export.py --model mobilenet_v2_100 --ckpt_path weights.ckpt --format both --check
    python export.py --model mobilenet_v2_100 --ckpt_path weights.ckpt --format onnx --quantize int8 --calib_data DIR --check
"""
import argparse
import sys
from typing import Optional, Sequence

from mindcv import ConfigError, MindCVError, create_model, get_pretrained_cfg
from mindcv.deploy import EXPORT_FORMATS, check_exported, export_network, fold_batchnorm, onnxruntime_installed
from mindcv.engine.predict import eval_settings
from mindcv.engine.quantization import QUANTIZE_OPTIONS, calibration_images, quantize_export

MINDIR_CHECK_BATCH_SIZES = (1, 3)  # two sizes show the dynamic batch works


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="model name, e.g. mobilenet_v2_100")
    parser.add_argument("--ckpt_path", default="", help=".ckpt or .safetensors weights (default: initial weights)")
    parser.add_argument("--num_classes", type=int, default=1000, help="0 exports the pooled features")
    parser.add_argument("--in_channels", type=positive_int, default=3)
    parser.add_argument("--image_size", type=positive_int, default=None, help="input height and width (default: the model's)")
    parser.add_argument("--batch_size", type=positive_int, default=1, help="ONNX batch size (MINDIR has a dynamic batch)")
    parser.add_argument("--format", default="mindir", choices=(*EXPORT_FORMATS, "both"))
    parser.add_argument("--output", default=None, help="file stem; the format adds its suffix (default: the model name)")
    parser.add_argument("--fold_bn", action=argparse.BooleanOptionalAction, default=True, help="fold BatchNorm into convs")
    parser.add_argument("--check", action="store_true", help="run the exported model and compare it with the network")
    for option in QUANTIZE_OPTIONS:
        kind = positive_int if option.kind == "int" else str
        parser.add_argument(f"--{option.name}", type=kind, default=option.default, choices=option.choices, help=option.help)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    formats = list(EXPORT_FORMATS) if args.format == "both" else [args.format]
    try:
        if args.quantize and (args.format == "mindir" or not args.fold_bn):
            raise ConfigError("--quantize int8 quantizes the BatchNorm-folded ONNX export: use --format onnx or both, without --no-fold_bn")
        network = create_model(args.model, args.num_classes, in_channels=args.in_channels, checkpoint_path=args.ckpt_path)
        image_size = args.image_size or get_pretrained_cfg(args.model).input_size[-1]
        image_shape = (args.in_channels, image_size, image_size)
        if args.quantize:  # read first: a bad folder or image fails before anything is written
            # The model's evaluation transforms (its pretrained config) at the exported size.
            settings = {**eval_settings(argparse.Namespace(), get_pretrained_cfg(args.model)), "image_resize": image_size}
            calibration = calibration_images(args.calib_data, args.calib_split, args.calib_samples, settings)
        network.set_train(False)
        exported = fold_batchnorm(network) if args.fold_bn else network
        passed = True
        for file_format in formats:
            path = export_network(exported, args.output or args.model, file_format, image_shape, args.batch_size)
            batch = "dynamic batch" if file_format == "mindir" else f"batch {args.batch_size}"
            print(f"wrote {path} ({batch}, input {image_shape}, BatchNorm {'folded' if args.fold_bn else 'kept'})")
            if file_format == "onnx" and args.quantize:
                print(quantize_export(path, calibration, args.calib_method, args.check))
            if not args.check:
                continue
            if file_format == "onnx" and not onnxruntime_installed():
                print("  check skipped: onnxruntime is not installed")
                continue
            batch_sizes = MINDIR_CHECK_BATCH_SIZES if file_format == "mindir" else (args.batch_size,)
            for result in check_exported(network, path, image_shape, batch_sizes):
                print(f"  {result}")
                passed = passed and result.ok
    except MindCVError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
