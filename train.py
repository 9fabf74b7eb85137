"""Train a model.

    python train.py -c configs/mobilenetv2/mobilenetv2_100_gpu.yaml --data_dir /path/to/imagenet
    msrun --worker_num=8 --local_worker_num=8 train.py -c ... --distribute True
    mpirun -n 8 python train.py -c ... --distribute True

Resume a stopped run (killed, preempted, out of disk): repeat its command and add
`--ckpt_path CKPT_SAVE_DIR --resume_opt True` to continue from the newest resumable state
in CKPT_SAVE_DIR (the newest checkpoint listed in checkpoints.json, or a later
`<model>-latest_step.ckpt`), or name one checkpoint file. The resumed run ends with the
weights an uninterrupted run with the same seed would have.

SIGTERM or SIGINT: the run finishes its step, saves a resumable checkpoint, logs the resume
command and exits with 128 + the signal number (143, 130), so that schedulers see it did
not finish; a second signal exits at once.
"""
import sys
from pathlib import Path

from mindcv.config import parse_config
from mindcv.engine import TrainingStopped, end_process, train
from mindcv.errors import exit_on_user_error


@exit_on_user_error
def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    cfg = parse_config(argv, description="Train an image classifier with mindcv")
    try:
        result = train(cfg, command=[sys.executable, str(Path(__file__).resolve()), *argv])
    except TrainingStopped as stopped:
        return stopped.exit_code
    if result.get("best_top1") is not None:
        print(f"best top-1 {result['best_top1']:.4f} at epoch {result['best_epoch']}: {result['best_checkpoint']}")
    return 0


if __name__ == "__main__":
    end_process(main())
