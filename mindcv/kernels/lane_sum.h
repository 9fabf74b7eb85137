// Reductions in eight fixed lanes: the loop vectorises without -ffast-math, and the order of the
// additions never changes (results repeat bitwise).
#pragma once

#include <cstdint>

// Sum of f(e) over [0, count).
template <typename F>
double lane_sum(int64_t count, const F &f) {
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t e = 0;
  for (; e + 8 <= count; e += 8)
    for (int l = 0; l < 8; ++l) lanes[l] += f(e + l);
  for (; e < count; ++e) lanes[0] += f(e);
  return ((double(lanes[0]) + lanes[1]) + (double(lanes[2]) + lanes[3])) +
         ((double(lanes[4]) + lanes[5]) + (double(lanes[6]) + lanes[7]));
}
