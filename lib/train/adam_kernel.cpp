#include "train/adam_kernel.hpp"

#include <cmath>

namespace automl::train {

namespace {

__attribute__((target_clones("avx512f", "avx2", "default"))) void update(float* __restrict p, const float* __restrict g,
                                                                         float* __restrict m, float* __restrict v,
                                                                         std::int64_t n, AdamScalars s) {
  const float one_minus_beta1 = 1.0F - s.beta1, one_minus_beta2 = 1.0F - s.beta2;
  for (std::int64_t i = 0; i < n; ++i) {
    const float grad = g[i] + s.l2 * p[i];
    const float mi = s.beta1 * m[i] + one_minus_beta1 * grad;
    const float vi = s.beta2 * v[i] + one_minus_beta2 * grad * grad;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * s.decay - s.step_size * mi / (std::sqrt(vi) / s.bc2_sqrt + s.eps);
  }
}

} // namespace

void adam_update(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, std::int64_t n, const AdamScalars& s) {
  update(param, grad, exp_avg, exp_avg_sq, n, s);
}

} // namespace automl::train
