// Dense 3x3 convolution (MobileNetV2's stem: 3 -> 32 channels, stride 2) on NCHW float32,
// forward only, as an AOT custom operator for MindSpore's CPU backend. oneDNN, behind MindSpore 2.10's
// Conv2D, has no optimised kernel for a 3x3 convolution on plain NCHW tensors and falls back to its
// reference loop (`jit_uni_ncsp:conv+ref`): measured 50 ms for the stem of 64 images at 32 px on a
// 2-core Xeon, half of the whole network's forward pass. Its gradients are fast and stay MindSpore's.
// Each output value is summed by one thread in a fixed order (input channel, kernel row, kernel
// column), so results do not depend on the thread count.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "aot_abi.h"
#include "parallel.h"

namespace {

constexpr int64_t K = 3;

struct Shape {
  int64_t n, c, h, w, o, oh, ow, stride, pad_top, pad_left;
};

// Padding 1, or TensorFlow's SAME: (total padding) / 2 before, the odd one after.
int64_t pad_before(int64_t in, int64_t out, int64_t stride, bool same) {
  return same ? std::max<int64_t>((out - 1) * stride + K - in, 0) / 2 : 1;
}

Shape shape_of(const int64_t *x, const int64_t *y, int64_t stride, bool same) {
  return {x[0], x[1], x[2], x[3], y[1], y[2], y[3], stride, pad_before(x[2], y[2], stride, same),
          pad_before(x[3], y[3], stride, same)};
}

// One thread per (sample, output row): all output channels of the row accumulate in `acc`
// [column][channel], so the innermost loop runs over the output channels, contiguous in the
// transposed weights `wt` [c][i][j][o], and vectorises; the row is then written out as NCHW.
void forward(const float *x, const float *weight, float *y, const Shape &s) {
  std::vector<float> wt(s.c * K * K * s.o);
  for (int64_t o = 0; o < s.o; ++o)
    for (int64_t t = 0; t < s.c * K * K; ++t) wt[t * s.o + o] = weight[o * s.c * K * K + t];
  parallel_for(s.n * s.oh, [&](int64_t begin, int64_t end) {
    std::vector<float> acc(s.ow * s.o);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t sample = row / s.oh, r = row % s.oh;
      std::fill(acc.begin(), acc.end(), 0.0f);
      for (int64_t c = 0; c < s.c; ++c) {
        for (int64_t i = 0; i < K; ++i) {
          const int64_t in_row = r * s.stride - s.pad_top + i;
          if (in_row < 0 || in_row >= s.h) continue;
          const float *line = x + ((sample * s.c + c) * s.h + in_row) * s.w;
          for (int64_t j = 0; j < K; ++j) {
            const float *taps = wt.data() + ((c * K + i) * K + j) * s.o;
            for (int64_t col = 0; col < s.ow; ++col) {
              const int64_t in_col = col * s.stride - s.pad_left + j;
              if (in_col < 0 || in_col >= s.w) continue;
              const float v = line[in_col];
              float *a = acc.data() + col * s.o;
              for (int64_t o = 0; o < s.o; ++o) a[o] += taps[o] * v;
            }
          }
        }
      }
      for (int64_t o = 0; o < s.o; ++o) {
        float *out = y + ((sample * s.o + o) * s.oh + r) * s.ow;
        for (int64_t col = 0; col < s.ow; ++col) out[col] = acc[col * s.o + o];
      }
    }
  });
}

}  // namespace

// Entry points (aot_abi.h): x [N,C,H,W], weight [O,C,3,3] -> y [N,O,OH,OW]. NAME is the stride, with
// "Same" for TensorFlow's SAME padding.
#define ENTRY_POINT(NAME, S, SAME)                                                                             \
  extern "C" int Conv3x3Forward##NAME(int nparam, void **params, int *, int64_t **shapes, const char **dtypes, \
                                       void *, void *) {                                                       \
    if (nparam != 3 || !float_inputs(nparam, dtypes)) return 1;                                               \
    forward(in(params, 0), in(params, 1), out(params, 2), shape_of(shapes[0], shapes[2], S, SAME));            \
    return 0;                                                                                                  \
  }

ENTRY_POINT(1, 1, false)
ENTRY_POINT(2, 2, false)
ENTRY_POINT(1Same, 1, true)
ENTRY_POINT(2Same, 2, true)
