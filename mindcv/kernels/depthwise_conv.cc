// Depthwise 3x3 convolution (padding 1, stride 1 or 2) on NCHW float32, as AOT custom
// operators for MindSpore's CPU backend. MindSpore 2.10 runs grouped convolutions through
// oneDNN's im2col + GEMM path with one tiny GEMM per channel; these loops are 3-20x faster.
// Each output value is written by one thread in a fixed order, so results are the same for
// any thread count (exact resume relies on that).
#include <sched.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

namespace {

int thread_count() {
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

struct Plane {
  int64_t n, c, h, w, oh, ow;
};

Plane plane_of(const int64_t *x_shape, const int64_t *y_shape) {
  return {x_shape[0], x_shape[1], x_shape[2], x_shape[3], y_shape[2], y_shape[3]};
}

// Copy one HxW plane into the middle of a zeroed (H+2)x(W+2) buffer.
void pad_plane(const float *src, int64_t h, int64_t w, float *dst) {
  const int64_t pw = w + 2;
  std::fill(dst, dst + (h + 2) * pw, 0.0f);
  for (int64_t r = 0; r < h; ++r) std::memcpy(dst + (r + 1) * pw + 1, src + r * w, w * sizeof(float));
}

template <int S>
void forward(const float *x, const float *weight, float *y, const Plane &p) {
  const int64_t planes = p.n * p.c, pw = p.w + 2;
  parallel_for(planes, [&](int64_t begin, int64_t end) {
    std::vector<float> padded((p.h + 2) * pw);
    for (int64_t k = begin; k < end; ++k) {
      const float *wk = weight + (k % p.c) * 9;
      pad_plane(x + k * p.h * p.w, p.h, p.w, padded.data());
      float *out = y + k * p.oh * p.ow;
      for (int64_t r = 0; r < p.oh; ++r) {
        float *row = out + r * p.ow;
        std::fill(row, row + p.ow, 0.0f);
        for (int i = 0; i < 3; ++i) {
          const float *in = padded.data() + (r * S + i) * pw;
          const float w0 = wk[i * 3], w1 = wk[i * 3 + 1], w2 = wk[i * 3 + 2];
          for (int64_t col = 0; col < p.ow; ++col)
            row[col] += w0 * in[col * S] + w1 * in[col * S + 1] + w2 * in[col * S + 2];
        }
      }
    }
  });
}

template <int S>
void backward_input(const float *dy, const float *weight, float *dx, const Plane &p) {
  const int64_t planes = p.n * p.c, pw = p.w + 2;
  parallel_for(planes, [&](int64_t begin, int64_t end) {
    std::vector<float> padded((p.h + 2) * pw);
    for (int64_t k = begin; k < end; ++k) {
      const float *wk = weight + (k % p.c) * 9;
      const float *grad = dy + k * p.oh * p.ow;
      std::fill(padded.begin(), padded.end(), 0.0f);
      for (int64_t r = 0; r < p.oh; ++r) {
        const float *row = grad + r * p.ow;
        for (int i = 0; i < 3; ++i) {
          float *in = padded.data() + (r * S + i) * pw;
          const float w0 = wk[i * 3], w1 = wk[i * 3 + 1], w2 = wk[i * 3 + 2];
          if (S == 1) {
            for (int64_t col = 0; col < p.ow; ++col) in[col] += w0 * row[col];
            for (int64_t col = 0; col < p.ow; ++col) in[col + 1] += w1 * row[col];
            for (int64_t col = 0; col < p.ow; ++col) in[col + 2] += w2 * row[col];
          } else {
            for (int64_t col = 0; col < p.ow; ++col) {
              in[col * S] += w0 * row[col];
              in[col * S + 1] += w1 * row[col];
              in[col * S + 2] += w2 * row[col];
            }
          }
        }
      }
      float *out = dx + k * p.h * p.w;
      for (int64_t r = 0; r < p.h; ++r) std::memcpy(out + r * p.w, padded.data() + (r + 1) * pw + 1, p.w * sizeof(float));
    }
  });
}

template <int S>
void backward_weight(const float *x, const float *dy, float *dweight, const Plane &p) {
  const int64_t pw = p.w + 2;
  parallel_for(p.c, [&](int64_t begin, int64_t end) {
    std::vector<float> padded((p.h + 2) * pw);
    std::vector<float> partial(9 * p.ow);
    for (int64_t c = begin; c < end; ++c) {
      std::fill(partial.begin(), partial.end(), 0.0f);
      for (int64_t n = 0; n < p.n; ++n) {
        const int64_t k = n * p.c + c;
        pad_plane(x + k * p.h * p.w, p.h, p.w, padded.data());
        const float *grad = dy + k * p.oh * p.ow;
        for (int64_t r = 0; r < p.oh; ++r) {
          const float *row = grad + r * p.ow;
          for (int i = 0; i < 3; ++i) {
            const float *in = padded.data() + (r * S + i) * pw;
            for (int j = 0; j < 3; ++j) {
              float *acc = partial.data() + (i * 3 + j) * p.ow;
              for (int64_t col = 0; col < p.ow; ++col) acc[col] += row[col] * in[col * S + j];
            }
          }
        }
      }
      for (int t = 0; t < 9; ++t) {
        float sum = 0.0f;
        for (int64_t col = 0; col < p.ow; ++col) sum += partial[t * p.ow + col];
        dweight[c * 9 + t] = sum;
      }
    }
  });
}

bool float_inputs(int nparam, const char **dtypes) {
  for (int i = 0; i < nparam; ++i)
    if (std::strcmp(dtypes[i], "float32") != 0) return false;
  return true;
}

float *as_float(void *data) { return static_cast<float *>(data); }

}  // namespace

// MindSpore's AOT convention: `params` holds the inputs then the output, `shapes` their shapes;
// 0 means success. Forward: x [N,C,H,W], weight [C,1,3,3] -> y [N,C,OH,OW]. Input gradient:
// x (for its shape), weight, dy -> dx. Weight gradient: x, weight (for its shape), dy -> dweight.
#define ENTRY_POINTS(S)                                                                                     \
  extern "C" int DepthwiseForward##S(int nparam, void **params, int *, int64_t **shapes, const char **dtypes, \
                                     void *, void *) {                                                      \
    if (nparam != 3 || !float_inputs(nparam, dtypes)) return 1;                                            \
    forward<S>(as_float(params[0]), as_float(params[1]), as_float(params[2]), plane_of(shapes[0], shapes[2])); \
    return 0;                                                                                               \
  }                                                                                                         \
  extern "C" int DepthwiseBackwardInput##S(int nparam, void **params, int *, int64_t **shapes,              \
                                           const char **dtypes, void *, void *) {                           \
    if (nparam != 4 || !float_inputs(nparam, dtypes)) return 1;                                            \
    backward_input<S>(as_float(params[2]), as_float(params[1]), as_float(params[3]), plane_of(shapes[0], shapes[2])); \
    return 0;                                                                                               \
  }                                                                                                         \
  extern "C" int DepthwiseBackwardWeight##S(int nparam, void **params, int *, int64_t **shapes,             \
                                            const char **dtypes, void *, void *) {                          \
    if (nparam != 4 || !float_inputs(nparam, dtypes)) return 1;                                            \
    backward_weight<S>(as_float(params[0]), as_float(params[2]), as_float(params[3]), plane_of(shapes[0], shapes[2])); \
    return 0;                                                                                               \
  }

ENTRY_POINTS(1)
ENTRY_POINTS(2)
