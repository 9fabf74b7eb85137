"""Validate weights: exact top-1 / top-5 / loss over every image of a split.

    python validate.py -c configs/mobilenetv2/mobilenetv2_100_gpu.yaml --data_dir /path/to/imagenet --ckpt_path model.ckpt
    python validate.py --model mobilenet_v2_100 --pretrained True --data_dir /path/to/imagenet --results_file results.csv
    msrun --worker_num=2 --local_worker_num=2 validate.py ... --distribute True

Options beside the config keys: --results_file (.json or .csv), --per_class True, --confusion_matrix FILE.png.
"""

from mindcv.config import parse_config
from mindcv.engine import end_process
from mindcv.engine.results import format_per_class
from mindcv.engine.validation import VALIDATE_OPTIONS, validate
from mindcv.errors import exit_on_user_error


@exit_on_user_error
def main(argv=None) -> int:
    cfg = parse_config(argv, description="Validate an image classifier with mindcv", extra_options=VALIDATE_OPTIONS)
    report = validate(cfg)
    if report.rank == 0:
        if report.per_class is not None:
            print(format_per_class(report.per_class))
        print(report.summary())
        for path in report.written:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    end_process(main())
