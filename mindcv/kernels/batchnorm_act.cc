// BatchNorm on NCHW float32, optionally fused with ReLU6, as AOT custom operators for MindSpore's
// CPU backend: training mode (statistics of the batch) forward and backward, and inference (moving
// statistics) forward, 4x faster than MindSpore's BatchNorm + ReLU6 on a 2-core Xeon.
// MindSpore 2.10 runs BatchNorm, ReLU6 and their gradients as four operators with a full
// pass over memory each; here one thread takes a channel at a time, so its N x H x W values
// stay in cache between the passes. Each channel is summed by one thread in a fixed order:
// results do not depend on the thread count.
#include <cmath>
#include <cstdint>
#include <vector>

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
float clamp(float v) {
  return Relu6 ? (v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v)) : v;  // keeps NaN; vectorises, unlike fmin/fmax
}

template <bool Relu6>
void normalise_plane(const float *in, float *out, int64_t count, const Affine &affine) {
  for (int64_t e = 0; e < count; ++e) out[e] = clamp<Relu6>(affine(in[e]));
}

// From a channel's mean and sum of squared deviations: stores the mean, 1 / sqrt(var + eps) and the
// moved moving statistics; returns the channel's normalisation.
Affine finish_statistics(int64_t ch, float mean_f, double squares, const float *gamma, const float *beta, float eps,
                         float *mean_out, float *invstd_out, const Moving &moving, const Layout &l) {
  const double var = squares / l.count();
  const float invstd = float(1.0 / std::sqrt(var + eps));
  mean_out[ch] = mean_f;
  invstd_out[ch] = invstd;
  const float unbiased_var = float(l.count() > 1 ? squares / (l.count() - 1) : var);
  moving.mean_out[ch] = moving.mean[ch] + (mean_f - moving.mean[ch]) * moving.momentum;
  moving.var_out[ch] = moving.var[ch] + (unbiased_var - moving.var[ch]) * moving.momentum;
  return Affine(gamma[ch], beta[ch], mean_f, invstd);
}

// Planes smaller than the eight summation lanes (the deep layers at small inputs: 2x2, 1x1) leave a
// channel's values scattered one short run per sample, a cache line apart, and the per-plane loop
// setup costs more than the values (20 ns a value on 1x1 planes). There a thread takes a block of
// channels, whose values are one contiguous run per sample, and works on whole runs: running sums
// per position in the run (added over the samples in order, then over a channel's positions), and
// the per-channel constants spread over the run, so every loop is contiguous and vectorises.
constexpr int64_t kLanes = 8;

// A block [begin, end) of channels as runs of (end - begin) * hw values, one per sample.
struct ChannelBlock {
  int64_t begin, size, hw;
  int64_t run() const { return size * hw; }

  // Per-position sums -> per-channel sums (positions of a channel added in order).
  std::vector<double> per_channel(const std::vector<double> &sums) const {
    std::vector<double> channel(size, 0.0);
    for (int64_t k = 0; k < size; ++k)
      for (int64_t e = 0; e < hw; ++e) channel[k] += sums[k * hw + e];
    return channel;
  }

  // A per-channel value at every position of the run.
  template <typename T, typename F>
  std::vector<T> spread(const F &value) const {
    std::vector<T> out;
    out.reserve(run());
    for (int64_t k = 0; k < size; ++k) out.insert(out.end(), hw, value(begin + k, k));  // value: once per channel
    return out;
  }
};

// y = affine(x) over each sample's run of the channels from `begin`, `affine` spread over the run.
template <bool Relu6>
void normalise_runs(const float *x, float *y, const Layout &l, int64_t begin, const std::vector<Affine> &affine) {
  const int64_t run = static_cast<int64_t>(affine.size());
  for (int64_t s = 0; s < l.n; ++s) {
    const float *xs = x + l.offset(s, begin);
    float *ys = y + l.offset(s, begin);
    for (int64_t j = 0; j < run; ++j) ys[j] = clamp<Relu6>(affine[j](xs[j]));
  }
}

template <bool Relu6>
void forward_small(const float *x, const float *gamma, const float *beta, float eps, float *y, float *mean_out,
                   float *invstd_out, const Moving &moving, const Layout &l) {
  parallel_for(l.c, [&](int64_t begin, int64_t end) {
    const ChannelBlock block{begin, end - begin, l.hw};
    const int64_t run = block.run();
    std::vector<double> sums(run, 0.0);
    for (int64_t s = 0; s < l.n; ++s) {
      const float *xs = x + l.offset(s, begin);
      for (int64_t j = 0; j < run; ++j) sums[j] += xs[j];
    }
    const std::vector<double> totals = block.per_channel(sums);
    const std::vector<float> mean = block.spread<float>([&](int64_t, int64_t k) { return float(totals[k] / l.count()); });
    std::fill(sums.begin(), sums.end(), 0.0);
    for (int64_t s = 0; s < l.n; ++s) {
      const float *xs = x + l.offset(s, begin);
      for (int64_t j = 0; j < run; ++j) {
        const float d = xs[j] - mean[j];
        sums[j] += d * d;
      }
    }
    const std::vector<double> squares = block.per_channel(sums);
    const std::vector<Affine> affine = block.spread<Affine>([&](int64_t ch, int64_t k) {
      return finish_statistics(ch, mean[k * l.hw], squares[k], gamma, beta, eps, mean_out, invstd_out, moving, l);
    });
    normalise_runs<Relu6>(x, y, l, begin, affine);
  });
}

template <bool Relu6>
void forward(const float *x, const float *gamma, const float *beta, float eps, float *y, float *mean_out,
             float *invstd_out, const Moving &moving, const Layout &l) {
  if (l.hw < kLanes) return forward_small<Relu6>(x, gamma, beta, eps, y, mean_out, invstd_out, moving, l);
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
      const Affine affine = finish_statistics(ch, mean_f, squares, gamma, beta, eps, mean_out, invstd_out, moving, l);
      for (int64_t s = 0; s < l.n; ++s) normalise_plane<Relu6>(x + l.offset(s, ch), y + l.offset(s, ch), l.hw, affine);
    }
  });
}

// With g = dy (masked where ReLU6 clamped) and xhat = (x - mean) * invstd:
// dbeta = sum(g), dgamma = sum(g * xhat), dx = gamma * invstd * (g - mean(g) - xhat * mean(g * xhat)).
// dx = a * g + b * (x - mean) + d, with the channel's sums folded into the constants; also stores
// dgamma and dbeta.
struct InputGradient {
  float a, b, d;

  InputGradient(int64_t ch, double sum_g, double sum_g_centered, const float *gamma, const float *invstd, float *dgamma,
                float *dbeta, const Layout &l) {
    const double is = invstd[ch], scale = gamma[ch] * is, count = double(l.count());
    dbeta[ch] = float(sum_g);
    dgamma[ch] = float(sum_g_centered * is);
    a = float(scale);
    b = float(-scale * is * is * sum_g_centered / count);
    d = float(-scale * sum_g / count);
  }

  template <bool Relu6>
  void plane(const float *x, const float *dy, float *dx, int64_t offset, int64_t count, const Affine &affine, float m) const {
    const float *xp = x + offset, *gp = dy + offset;
    float *out = dx + offset;
    for (int64_t e = 0; e < count; ++e) {
      const float g = !Relu6 || relu6_passes(affine(xp[e])) ? gp[e] : 0.0f;
      out[e] = a * g + b * (xp[e] - m) + d;
    }
  }
};

template <bool Relu6>
void backward_small(const float *x, const float *gamma, const float *beta, const float *mean, const float *invstd,
                    const float *dy, float *dx, float *dgamma, float *dbeta, const Layout &l) {
  parallel_for(l.c, [&](int64_t begin, int64_t end) {
    const ChannelBlock block{begin, end - begin, l.hw};
    const int64_t run = block.run();
    const std::vector<float> m = block.spread<float>([&](int64_t ch, int64_t) { return mean[ch]; });
    const std::vector<Affine> affine = block.spread<Affine>(
        [&](int64_t ch, int64_t) { return Affine(gamma[ch], beta[ch], mean[ch], invstd[ch]); });
    std::vector<double> g_sums(run, 0.0), g_centered_sums(run, 0.0);
    for (int64_t s = 0; s < l.n; ++s) {
      const int64_t o = l.offset(s, begin);
      const float *xs = x + o, *gs = dy + o;
      for (int64_t j = 0; j < run; ++j) {
        const float g = !Relu6 || relu6_passes(affine[j](xs[j])) ? gs[j] : 0.0f;
        g_sums[j] += g;
        g_centered_sums[j] += g * (xs[j] - m[j]);
      }
    }
    const std::vector<double> sum_g = block.per_channel(g_sums), sum_g_centered = block.per_channel(g_centered_sums);
    std::vector<InputGradient> terms;  // one per channel, spread field by field (contiguous loads below)
    for (int64_t k = 0; k < block.size; ++k)
      terms.emplace_back(begin + k, sum_g[k], sum_g_centered[k], gamma, invstd, dgamma, dbeta, l);
    const std::vector<float> a = block.spread<float>([&](int64_t, int64_t k) { return terms[k].a; }),
                             b = block.spread<float>([&](int64_t, int64_t k) { return terms[k].b; }),
                             d = block.spread<float>([&](int64_t, int64_t k) { return terms[k].d; });
    for (int64_t s = 0; s < l.n; ++s) {
      const int64_t o = l.offset(s, begin);
      const float *xs = x + o, *gs = dy + o;
      float *out = dx + o;
      for (int64_t j = 0; j < run; ++j) {
        const float g = !Relu6 || relu6_passes(affine[j](xs[j])) ? gs[j] : 0.0f;
        out[j] = a[j] * g + b[j] * (xs[j] - m[j]) + d[j];
      }
    }
  });
}

template <bool Relu6>
void backward(const float *x, const float *gamma, const float *beta, const float *mean, const float *invstd,
              const float *dy, float *dx, float *dgamma, float *dbeta, const Layout &l) {
  if (l.hw < kLanes) return backward_small<Relu6>(x, gamma, beta, mean, invstd, dy, dx, dgamma, dbeta, l);
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
      const InputGradient terms(ch, sum_g, sum_g_centered, gamma, invstd, dgamma, dbeta, l);
      for (int64_t s = 0; s < l.n; ++s) terms.plane<Relu6>(x, dy, dx, l.offset(s, ch), l.hw, affine, m);
    }
  });
}

// Inference: y = gamma * (x - moving mean) / sqrt(moving var + eps) + beta (then clamped), one pass.
template <bool Relu6>
void inference(const float *x, const float *gamma, const float *beta, const float *mean, const float *var, float eps,
               float *y, const Layout &l) {
  auto affine_of = [&](int64_t ch) { return Affine(gamma[ch], beta[ch], mean[ch], float(1.0 / std::sqrt(double(var[ch]) + eps))); };
  if (l.hw < kLanes) {
    parallel_for(l.c, [&](int64_t begin, int64_t end) {
      const ChannelBlock block{begin, end - begin, l.hw};
      normalise_runs<Relu6>(x, y, l, begin, block.spread<Affine>([&](int64_t ch, int64_t) { return affine_of(ch); }));
    });
    return;
  }
  parallel_for(l.c, [&](int64_t begin, int64_t end) {
    for (int64_t ch = begin; ch < end; ++ch) {
      const Affine affine = affine_of(ch);
      for (int64_t s = 0; s < l.n; ++s) normalise_plane<Relu6>(x + l.offset(s, ch), y + l.offset(s, ch), l.hw, affine);
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
