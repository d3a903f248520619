// SimTier (arXiv 2407.19467): for each target, the cosine similarity to each of its behaviours,
// binned into N equal-width tiers of [-1, 1]. It runs for every candidate at serving time, so it
// reads vectors straight from the item table by row (no gathered [B, L, D] copy) and skips
// padding and items without a vector (row 0) instead of letting them pile into the tier of 0,
// the bug of the public code.
//
// Rows of the table must be L2-normalised (the caller guarantees it), so the cosine is a dot
// product. Tier of s: floor((s + 1) * N / 2), clamped to [0, N - 1]: tiers are closed on the
// left ([-1, -1 + w), [-1 + w, -1 + 2w), ...) and the last one also holds s = 1.
#include "common.h"
#include <omp.h>
#include <algorithm>
#include <cmath>

namespace mm {

// simTier(table [V, D], V, D, target I32[B], hist I32[B*L], histLen I32[B], B, L, tiers,
//         counts F32[B*tiers], sims F32[B*L] | null)
// counts[b, t] = number of real behaviours of b whose cosine to b's target falls in tier t;
// sims (optional) gets each cosine, 0 where the behaviour is padding or has no vector.
static Napi::Value simTier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 table, counts, sims;
  I32 target, hist, histLen;
  if (!f32(info, 0, table, "table") || !i32(info, 3, target, "target") || !i32(info, 4, hist, "hist") ||
      !i32(info, 5, histLen, "histLen") || !f32(info, 9, counts, "counts") || !f32(info, 10, sims, "sims", true))
    return env.Undefined();
  const int64_t V = int64(info, 1), D = int64(info, 2), B = int64(info, 6), L = int64(info, 7), N = int64(info, 8);
  if (V < 1 || D < 1 || B < 0 || L < 0 || N < 1) {
    fail(env, "mmctr native: simTier needs rows >= 1, dim >= 1, tiers >= 1 and non-negative batch and length");
    return env.Undefined();
  }
  if (!need(env, table.n, V * D, "table") || !need(env, target.n, B, "target") || !need(env, hist.n, B * L, "hist") ||
      !need(env, histLen.n, B, "histLen") || !need(env, counts.n, B * N, "counts") || (sims.p && !need(env, sims.n, B * L, "sims")))
    return env.Undefined();
  for (int64_t b = 0; b < B; b++) {
    if (target.p[b] < 0 || target.p[b] >= V || histLen.p[b] < 0 || histLen.p[b] > L) {
      fail(env, "mmctr native: simTier got a target row outside the table or a history length outside [0, L]");
      return env.Undefined();
    }
    for (int64_t l = 0; l < histLen.p[b]; l++)
      if (hist.p[b * L + l] < 0 || hist.p[b * L + l] >= V) {
        fail(env, "mmctr native: simTier got a behaviour row outside the table");
        return env.Undefined();
      }
  }
  const double scale = 0.5 * (double)N;
  auto run = [&](int64_t b) {
    float* c = counts.p + b * N;
    float* s = sims.p ? sims.p + b * L : nullptr;
    std::fill(c, c + N, 0.f);
    if (s) std::fill(s, s + L, 0.f);
    const int32_t t = target.p[b];
    if (t == 0) return;  // the target has no vector: no similarity to anything
    const float* q = table.p + (int64_t)t * D;
    for (int64_t l = 0; l < histLen.p[b]; l++) {
      const int32_t r = hist.p[b * L + l];
      if (r == 0) continue;
      const float* k = table.p + (int64_t)r * D;
      float dot = 0.f;
#pragma omp simd reduction(+ : dot)
      for (int64_t d = 0; d < D; d++) dot += q[d] * k[d];
      dot = std::min(1.f, std::max(-1.f, dot));
      if (s) s[l] = dot;
      const int64_t tier = std::min<int64_t>(N - 1, std::max<int64_t>(0, (int64_t)std::floor(((double)dot + 1.0) * scale)));
      c[tier] += 1.f;
    }
  };
  if (par(B * L * D)) {
#pragma omp parallel for schedule(static) num_threads(threads())
    for (int64_t b = 0; b < B; b++) run(b);
  } else {
    for (int64_t b = 0; b < B; b++) run(b);
  }
  return env.Undefined();
}

void init_simtier(Napi::Env env, Napi::Object exports) { MM_EXPORT(simTier); }

}  // namespace mm
