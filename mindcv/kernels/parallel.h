// Static work splitting shared by the kernels: contiguous chunks, one per usable core. Fixed
// chunks (no work stealing) keep every output's summation order independent of timing.
#pragma once

#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <thread>
#include <vector>

// MINDCV_NUM_THREADS (mindcv sets it to the process's num_threads: a rank's share of the cores),
// else every core this process may run on. Read at each call, so a change applies at once.
inline int thread_count() {
  if (const char *env = std::getenv("MINDCV_NUM_THREADS")) {
    const int requested = std::atoi(env);
    if (requested > 0) return requested;
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// Run body(begin, end) over [0, total) split into contiguous chunks, one per thread.
template <typename Body>
void parallel_for(int64_t total, const Body &body) {
  const int64_t threads = std::min<int64_t>(thread_count(), total);
  if (threads <= 1) {
    body(int64_t{0}, total);
    return;
  }
  std::vector<std::thread> workers;
  const int64_t chunk = (total + threads - 1) / threads;
  for (int64_t t = 1; t < threads; ++t)
    workers.emplace_back(body, std::min(total, t * chunk), std::min(total, (t + 1) * chunk));
  body(int64_t{0}, std::min(total, chunk));
  for (auto &worker : workers) worker.join();
}
