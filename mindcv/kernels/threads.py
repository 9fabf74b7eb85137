"""How many threads mindcv's kernels split their work into (parallel.h reads it at every call)."""
import os

NUM_THREADS_ENV = "MINDCV_NUM_THREADS"


def set_num_threads(count: int) -> None:
    """Split every later kernel call into `count` chunks, one per thread. The results do not
    depend on it (each output is summed by one thread in a fixed order); the speed does."""
    if count < 1:
        raise ValueError(f"thread count must be positive, got {count}")
    os.environ[NUM_THREADS_ENV] = str(count)
