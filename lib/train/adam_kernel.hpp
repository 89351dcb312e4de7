#pragma once
// One Adam/AdamW update of n float32 values in a single pass over memory (torch::optim's step makes about ten
// passes: one per tensor op, with temporaries). The arithmetic is PyTorch 1.13's: the gradient gets `l2 * p`
// (Adam's weight decay), the parameter is multiplied by `decay` (AdamW's 1 - lr * weight_decay), then
//   m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2;   p -= step_size * m / (sqrt(v) / bc2_sqrt + eps)
// with step_size = lr / (1 - beta1^t) and bc2_sqrt = sqrt(1 - beta2^t). No torch here: this file is compiled
// with its own flags (vectorised square roots), once for AVX-512, AVX2 and the baseline; the loader picks the
// one this CPU runs.

#include <cstdint>

namespace automl::train {

struct AdamScalars {
  float beta1, beta2, l2, decay, step_size, bc2_sqrt, eps;
};

void adam_update(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, std::int64_t n, const AdamScalars& s);

} // namespace automl::train
