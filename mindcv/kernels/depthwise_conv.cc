// Depthwise 3x3 convolution (padding 1, stride 1 or 2; for stride 2 also TensorFlow's SAME
// padding) on NCHW float32, as AOT custom operators for MindSpore's CPU backend. MindSpore 2.10 runs grouped convolutions through
// oneDNN's im2col + GEMM path with one tiny GEMM per channel; these loops are 3-20x faster.
// Each output value is written by one thread in a fixed order, so results are the same for
// any thread count (exact resume relies on that).
#include <algorithm>
#include <cstdint>
#include <vector>

#include "aot_abi.h"
#include "lane_sum.h"
#include "parallel.h"

namespace {

// pad_top / pad_left: rows / columns of zeros before the input. Padding 1 pads 1; SAME pads
// (total padding) / 2 with the odd one at the bottom / right, total = (out - 1) * stride + 3 - in:
// 0 before an even size at stride 2, 1 before an odd one.
struct Plane {
  int64_t n, c, h, w, oh, ow, pad_top, pad_left;
};

int64_t pad_before(int64_t in, int64_t out, bool same) {
  return same ? std::max<int64_t>((out - 1) * 2 + 3 - in, 0) / 2 : 1;
}

Plane plane_of(const int64_t *x_shape, const int64_t *y_shape, bool same) {
  const int64_t h = x_shape[2], w = x_shape[3], oh = y_shape[2], ow = y_shape[3];
  return {x_shape[0], x_shape[1], h, w, oh, ow, pad_before(h, oh, same), pad_before(w, ow, same)};
}

// Stride 1 works on the flattened plane: tap (i, j) pairs output p with input p + (i-1)*w + (j-1).
// Rows out of range are cut from [begin, end); columns that would wrap to the neighbouring row
// are masked (left taps skip column 0, right taps column w-1).
struct Tap {
  int64_t offset, begin, end;
  const int32_t *keep;  // nullptr for the centre column
};

struct FlatPlane {
  int64_t h, w, size;
  std::vector<int32_t> keep_left, keep_right;

  FlatPlane(int64_t h_, int64_t w_) : h(h_), w(w_), size(h_ * w_), keep_left(size), keep_right(size) {
    for (int64_t p = 0; p < size; ++p) {
      keep_left[p] = p % w != 0;
      keep_right[p] = p % w != w - 1;
    }
  }

  Tap tap(int i, int j) const {
    const int64_t offset = (i - 1) * w + (j - 1);
    const int64_t begin = std::max<int64_t>(std::max<int64_t>(0, 1 - i) * w, -offset);
    const int64_t end = std::min<int64_t>(std::min<int64_t>(h, h + 1 - i) * w, size - offset);
    return {offset, begin, end, j == 0 ? keep_left.data() : j == 2 ? keep_right.data() : nullptr};
  }
};

// y = x (*) k over one plane, k a 3x3 kernel read as k[i*3+j]; stride 1.
void correlate_plane(const float *x, const float *k, float *y, const FlatPlane &plane) {
  const float centre = k[4];
  for (int64_t p = 0; p < plane.size; ++p) y[p] = centre * x[p];
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      if (i == 1 && j == 1) continue;
      const Tap t = plane.tap(i, j);
      const float wt = k[i * 3 + j];
      const float *src = x + t.offset;
      if (t.keep == nullptr) {
        for (int64_t p = t.begin; p < t.end; ++p) y[p] += wt * src[p];
      } else {
        for (int64_t p = t.begin; p < t.end; ++p) y[p] += wt * (t.keep[p] ? src[p] : 0.0f);
      }
    }
  }
}

// Stride 2: output column c reads input columns 2c + j - pad_left for taps j = 0, 1, 2. Splitting a
// row into the columns the side taps read (outer) and those the centre tap reads (centre), with
// zeros for the padding, turns every tap into a contiguous loop over the output columns.
struct SplitRow {
  int64_t w, ow, pad_left;
  std::vector<float> centre, outer;  // centre[c] = column 2c + 1 - pad_left; outer[m] = column 2m - pad_left

  SplitRow(int64_t w_, int64_t ow_, int64_t pad_left_) : w(w_), ow(ow_), pad_left(pad_left_), centre(ow_), outer(ow_ + 1) {}

  float column(const float *row, int64_t q) const { return q >= 0 && q < w ? row[q] : 0.0f; }

  void load(const float *row) {
    for (int64_t c = 0; c < ow; ++c) centre[c] = column(row, 2 * c + 1 - pad_left);
    for (int64_t m = 0; m <= ow; ++m) outer[m] = column(row, 2 * m - pad_left);
  }

  void clear() {
    std::fill(centre.begin(), centre.end(), 0.0f);
    std::fill(outer.begin(), outer.end(), 0.0f);
  }

  // Scatter back into a full row; the padding entries are dropped.
  void store(float *row) const {
    for (int64_t q = 0; q < w; ++q) row[q] = (q + pad_left) % 2 == 0 ? outer[(q + pad_left) / 2] : centre[(q + pad_left) / 2];
  }
};

void forward_s2_plane(const float *x, const float *k, float *y, const Plane &p, SplitRow &split) {
  for (int64_t r = 0; r < p.oh; ++r) {
    float *row = y + r * p.ow;
    std::fill(row, row + p.ow, 0.0f);
    for (int i = 0; i < 3; ++i) {
      const int64_t xr = 2 * r + i - p.pad_top;
      if (xr < 0 || xr >= p.h) continue;
      split.load(x + xr * p.w);
      const float w0 = k[i * 3], w1 = k[i * 3 + 1], w2 = k[i * 3 + 2];
      const float *centre = split.centre.data(), *outer = split.outer.data();
      for (int64_t c = 0; c < p.ow; ++c) row[c] += w0 * outer[c] + w1 * centre[c] + w2 * outer[c + 1];
    }
  }
}

// dx for stride 2: each dx row is built, split, from the dy rows that read it.
void backward_input_s2_plane(const float *dy, const float *k, float *dx, const Plane &p, SplitRow &split) {
  for (int64_t q = 0; q < p.h; ++q) {
    split.clear();
    float *centre = split.centre.data(), *outer = split.outer.data();
    for (int i = 0; i < 3; ++i) {
      const int64_t twice_r = q + p.pad_top - i;
      if (twice_r < 0 || twice_r % 2 != 0 || twice_r / 2 >= p.oh) continue;
      const float *grad = dy + (twice_r / 2) * p.ow;
      const float w0 = k[i * 3], w1 = k[i * 3 + 1], w2 = k[i * 3 + 2];
      for (int64_t c = 0; c < p.ow; ++c) centre[c] += w1 * grad[c];
      for (int64_t c = 0; c < p.ow; ++c) outer[c] += w0 * grad[c];
      for (int64_t c = 0; c < p.ow; ++c) outer[c + 1] += w2 * grad[c];
    }
    split.store(dx + q * p.w);
  }
}

// Small outputs (the deep layers at small inputs: 2x2 and 1x1) have too few values per tap for the
// contiguous loops above to pay for their setup, which cost more than the arithmetic (30 ns a value
// on 1x1 planes). Instead, every (output, input, tap) triple the geometry allows is listed once per
// call, grouped by output, and each plane walks that list: 2-6x faster on 2x2 and 1x1 outputs,
// slower from 4x4 on (`python -m benchmarks.kernel_layers`, results/kernel_layers.csv).
constexpr int64_t kSmallOutput = 4;

struct TapTable {
  std::vector<int32_t> first;  // taps of output o: [first[o], first[o + 1])
  std::vector<int32_t> input, tap;

  TapTable(const Plane &p, int stride) : first(1, 0) {
    for (int64_t r = 0; r < p.oh; ++r) {
      for (int64_t c = 0; c < p.ow; ++c) {
        for (int i = 0; i < 3; ++i) {
          for (int j = 0; j < 3; ++j) {
            const int64_t xr = r * stride + i - p.pad_top, xc = c * stride + j - p.pad_left;
            if (xr < 0 || xr >= p.h || xc < 0 || xc >= p.w) continue;
            input.push_back(static_cast<int32_t>(xr * p.w + xc));
            tap.push_back(i * 3 + j);
          }
        }
        first.push_back(static_cast<int32_t>(input.size()));
      }
    }
  }

  int64_t outputs() const { return static_cast<int64_t>(first.size()) - 1; }
};

bool is_small(const Plane &p) { return p.oh * p.ow <= kSmallOutput; }

// body(input offset, output offset, the plane's kernel) for every plane, split over the threads.
template <typename Body>
void each_plane(const float *weight, const Plane &p, const TapTable &table, const Body &body) {
  const int64_t in_size = p.h * p.w, out_size = table.outputs();
  parallel_for(p.n * p.c, [&](int64_t begin, int64_t end) {
    for (int64_t k = begin; k < end; ++k) body(k * in_size, k * out_size, weight + (k % p.c) * 9);
  });
}

void forward_small(const float *x, const float *weight, float *y, const Plane &p, const TapTable &table) {
  each_plane(weight, p, table, [&](int64_t in_offset, int64_t out_offset, const float *wk) {
    for (int64_t o = 0; o < table.outputs(); ++o) {
      float sum = 0.0f;
      for (int32_t e = table.first[o]; e < table.first[o + 1]; ++e) sum += wk[table.tap[e]] * x[in_offset + table.input[e]];
      y[out_offset + o] = sum;
    }
  });
}

void backward_input_small(const float *dy, const float *weight, float *dx, const Plane &p, const TapTable &table) {
  each_plane(weight, p, table, [&](int64_t in_offset, int64_t out_offset, const float *wk) {
    float *dxk = dx + in_offset;
    std::fill(dxk, dxk + p.h * p.w, 0.0f);
    for (int64_t o = 0; o < table.outputs(); ++o)
      for (int32_t e = table.first[o]; e < table.first[o + 1]; ++e) dxk[table.input[e]] += wk[table.tap[e]] * dy[out_offset + o];
  });
}

void backward_weight_small(const float *x, const float *dy, float *dweight, const Plane &p, const TapTable &table) {
  const int64_t in_size = p.h * p.w, out_size = table.outputs();
  parallel_for(p.c, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      float sums[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t n = 0; n < p.n; ++n) {
        const int64_t k = n * p.c + c;
        const float *xk = x + k * in_size, *grad = dy + k * out_size;
        for (int64_t o = 0; o < out_size; ++o)
          for (int32_t e = table.first[o]; e < table.first[o + 1]; ++e) sums[table.tap[e]] += grad[o] * xk[table.input[e]];
      }
      std::copy(sums, sums + 9, dweight + c * 9);
    }
  });
}

void forward(const float *x, const float *weight, float *y, const Plane &p, int stride) {
  if (is_small(p)) return forward_small(x, weight, y, p, TapTable(p, stride));
  const FlatPlane flat(p.h, p.w);
  parallel_for(p.n * p.c, [&](int64_t begin, int64_t end) {
    SplitRow split(p.w, p.ow, p.pad_left);
    for (int64_t k = begin; k < end; ++k) {
      const float *wk = weight + (k % p.c) * 9;
      if (stride == 1)
        correlate_plane(x + k * flat.size, wk, y + k * flat.size, flat);
      else
        forward_s2_plane(x + k * p.h * p.w, wk, y + k * p.oh * p.ow, p, split);
    }
  });
}

void backward_input(const float *dy, const float *weight, float *dx, const Plane &p, int stride) {
  if (is_small(p)) return backward_input_small(dy, weight, dx, p, TapTable(p, stride));
  const FlatPlane flat(p.h, p.w);
  parallel_for(p.n * p.c, [&](int64_t begin, int64_t end) {
    SplitRow split(p.w, p.ow, p.pad_left);
    for (int64_t k = begin; k < end; ++k) {
      const float *wk = weight + (k % p.c) * 9;
      if (stride == 1) {
        // With stride 1 and padding 1 the input gradient is dy correlated with the kernel turned 180 degrees.
        float flipped[9];
        for (int t = 0; t < 9; ++t) flipped[t] = wk[8 - t];
        correlate_plane(dy + k * flat.size, flipped, dx + k * flat.size, flat);
      } else {
        backward_input_s2_plane(dy + k * p.oh * p.ow, wk, dx + k * p.h * p.w, p, split);
      }
    }
  });
}

// Adds one plane's contribution to the nine weight-gradient sums (stride 1).
void weight_sums_s1_plane(const float *x, const float *dy, const FlatPlane &flat, float *sums) {
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      const Tap t = flat.tap(i, j);
      const float *src = x + t.offset + t.begin, *grad = dy + t.begin;
      const int32_t *keep = t.keep == nullptr ? nullptr : t.keep + t.begin;
      sums[i * 3 + j] += keep == nullptr
                             ? lane_sum(t.end - t.begin, [&](int64_t e) { return grad[e] * src[e]; })
                             : lane_sum(t.end - t.begin, [&](int64_t e) { return grad[e] * (keep[e] ? src[e] : 0.0f); });
    }
  }
}

// The same for stride 2, on split input rows.
void weight_sums_s2_plane(const float *x, const float *dy, const Plane &p, SplitRow &split, float *sums) {
  for (int64_t r = 0; r < p.oh; ++r) {
    const float *grad = dy + r * p.ow;
    for (int i = 0; i < 3; ++i) {
      const int64_t xr = 2 * r + i - p.pad_top;
      if (xr < 0 || xr >= p.h) continue;
      split.load(x + xr * p.w);
      const float *centre = split.centre.data(), *outer = split.outer.data();
      sums[i * 3] += lane_sum(p.ow, [&](int64_t e) { return grad[e] * outer[e]; });
      sums[i * 3 + 1] += lane_sum(p.ow, [&](int64_t e) { return grad[e] * centre[e]; });
      sums[i * 3 + 2] += lane_sum(p.ow, [&](int64_t e) { return grad[e] * outer[e + 1]; });
    }
  }
}

// dweight[c, i, j] = sum over n and outputs of dy * the input the tap read; one thread per channel
// adds the batch in order.
void backward_weight(const float *x, const float *dy, float *dweight, const Plane &p, int stride) {
  if (is_small(p)) return backward_weight_small(x, dy, dweight, p, TapTable(p, stride));
  const FlatPlane flat(p.h, p.w);
  parallel_for(p.c, [&](int64_t begin, int64_t end) {
    SplitRow split(p.w, p.ow, p.pad_left);
    for (int64_t c = begin; c < end; ++c) {
      float sums[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
      for (int64_t n = 0; n < p.n; ++n) {
        const int64_t k = n * p.c + c;
        const float *xk = x + k * p.h * p.w, *grad = dy + k * p.oh * p.ow;
        if (stride == 1)
          weight_sums_s1_plane(xk, grad, flat, sums);
        else
          weight_sums_s2_plane(xk, grad, p, split, sums);
      }
      std::copy(sums, sums + 9, dweight + c * 9);
    }
  });
}

}  // namespace

// Entry points (aot_abi.h). Forward: x [N,C,H,W], weight [C,1,3,3] -> y [N,C,OH,OW]. Input gradient:
// x (for its shape), weight, dy -> dx. Weight gradient: x, weight (for its shape), dy -> dweight.
// NAME is the stride, with "Same" for TensorFlow's SAME padding (stride 1 SAME is padding 1).
#define ENTRY_POINTS(NAME, S, SAME)                                                                            \
  extern "C" int DepthwiseForward##NAME(int nparam, void **params, int *, int64_t **shapes, const char **dtypes, \
                                        void *, void *) {                                                      \
    if (nparam != 3 || !float_inputs(nparam, dtypes)) return 1;                                               \
    forward(in(params, 0), in(params, 1), out(params, 2), plane_of(shapes[0], shapes[2], SAME), S);            \
    return 0;                                                                                                  \
  }                                                                                                            \
  extern "C" int DepthwiseBackwardInput##NAME(int nparam, void **params, int *, int64_t **shapes,              \
                                              const char **dtypes, void *, void *) {                           \
    if (nparam != 4 || !float_inputs(nparam, dtypes)) return 1;                                               \
    backward_input(in(params, 2), in(params, 1), out(params, 3), plane_of(shapes[0], shapes[2], SAME), S);     \
    return 0;                                                                                                  \
  }                                                                                                            \
  extern "C" int DepthwiseBackwardWeight##NAME(int nparam, void **params, int *, int64_t **shapes,             \
                                               const char **dtypes, void *, void *) {                          \
    if (nparam != 4 || !float_inputs(nparam, dtypes)) return 1;                                               \
    backward_weight(in(params, 0), in(params, 2), out(params, 3), plane_of(shapes[0], shapes[2], SAME), S);    \
    return 0;                                                                                                  \
  }

ENTRY_POINTS(1, 1, false)
ENTRY_POINTS(2, 2, false)
ENTRY_POINTS(2Same, 2, true)
