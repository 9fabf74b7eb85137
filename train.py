"""Train a model.

    python train.py -c configs/mobilenetv2/mobilenetv2_100_gpu.yaml --data_dir /path/to/imagenet
    msrun --worker_num=8 --local_worker_num=8 train.py -c ... --distribute True
    mpirun -n 8 python train.py -c ... --distribute True

Resume a stopped run (killed, preempted, out of disk): repeat its command and add
`--ckpt_path CKPT_SAVE_DIR --resume_opt True` to continue from the newest checkpoint
listed in CKPT_SAVE_DIR/checkpoints.json (or name one `<model>-<epoch>_<steps>.ckpt` file).
The resumed run ends with the weights an uninterrupted run with the same seed would have.
"""
import sys

from mindcv.config import parse_config
from mindcv.engine import train
from mindcv.errors import exit_on_user_error


@exit_on_user_error
def main(argv=None) -> int:
    cfg = parse_config(argv, description="Train an image classifier with mindcv")
    result = train(cfg)
    if result.get("best_top1") is not None:
        print(f"best top-1 {result['best_top1']:.4f} at epoch {result['best_epoch']}: {result['best_checkpoint']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
