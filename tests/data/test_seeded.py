"""Seeded augmentation stays a function of its seed while other pipeline threads reseed."""
import threading
import time

import numpy as np

from mindcv.data.seeded import SeededTransform, seeded_call


class _DrawsLate:
    """An op like RandomErasing: draws from numpy's global state, after yielding the GIL."""

    def __call__(self, image: np.ndarray) -> np.ndarray:
        time.sleep(0.0002)
        return image + np.random.random(image.shape)


def test_concurrent_reseeding_threads_draw_each_from_their_own_seed():
    op, image = _DrawsLate(), np.zeros(4)
    seeds = range(60)
    expected = {seed: seeded_call(op, seed, image) for seed in seeds}
    got = {}

    def work(offset: int) -> None:
        transform = SeededTransform([op])  # the image map's path; the other thread takes the batch map's
        for seed in seeds:
            got[(offset, seed)] = transform(image, np.uint32(seed), np.int64(0))[0] if offset else seeded_call(op, seed, image)

    threads = [threading.Thread(target=work, args=(offset,)) for offset in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 2 * len(seeds)
    for (_, seed), value in got.items():
        np.testing.assert_array_equal(value, expected[seed], err_msg=f"seed {seed}")
