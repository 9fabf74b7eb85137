"""Classify image files: the top-k classes of each, with names and probabilities.

    python infer.py --model mobilenet_v2_100 --pretrained True --input photo.jpg photos/
    python infer.py -c configs/mobilenetv2/mobilenetv2_100_cpu.yaml --ckpt_path model.ckpt --input photos/ --output predictions.json

Options beside the config keys: --input FILES_OR_FOLDERS, --topk K, --label_names imagenet|fashion_mnist|cifar10|FILE,
--output FILE.json, --skip_bad True (skip unreadable images instead of stopping).
"""
import sys

from mindcv.config import parse_config
from mindcv.engine.predict import INFER_OPTIONS, format_table, infer
from mindcv.errors import exit_on_user_error


@exit_on_user_error
def main(argv=None) -> int:
    cfg = parse_config(argv, description="Classify images with mindcv", extra_options=INFER_OPTIONS)
    report = infer(cfg)
    print(format_table(report.predictions))
    if cfg.options["output"]:
        print(f"wrote {cfg.options['output']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
