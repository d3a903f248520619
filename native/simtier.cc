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
MM_HOT static void sim_tier(const float* table, int64_t D, const int32_t* target, const int32_t* hist, const int32_t* histLen, int64_t B, int64_t L,
                            int64_t N, float* counts, float* sims) {
  const double scale = 0.5 * (double)N;
  auto run = [&](int64_t b) {
    float* c = counts + b * N;
    float* s = sims ? sims + b * L : nullptr;
    std::fill(c, c + N, 0.f);
    if (s) std::fill(s, s + L, 0.f);
    const int32_t t = target[b];
    if (t == 0) return;  // the target has no vector: no similarity to anything
    const float* q = table + (int64_t)t * D;
    for (int64_t l = 0; l < histLen[b]; l++) {
      const int32_t r = hist[b * L + l];
      if (r == 0) continue;
      const float* k = table + (int64_t)r * D;
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
}

static Napi::Value simTier(const Napi::CallbackInfo& info) {
  Args a(info, "simTier");
  F32 table = a.f32("table");
  const int64_t V = a.positive("rows"), D = a.positive("dim");
  I32 target = a.i32("target"), hist = a.i32("hist"), histLen = a.i32("histLen");
  const int64_t B = a.size("B"), L = a.size("L"), N = a.positive("tiers");
  F32 counts = a.f32("counts"), sims = a.f32_or_null("sims");
  a.need(table, V * D, "table");
  a.need(target, B, "target");
  a.need(hist, B * L, "hist");
  a.need(histLen, B, "histLen");
  a.need(counts, B * N, "counts");
  if (sims.p) a.need(sims, B * L, "sims");
  for (int64_t b = 0; b < B && a.ok(); b++) {
    if (target.p[b] < 0 || target.p[b] >= V || histLen.p[b] < 0 || histLen.p[b] > L)
      a.type_error("got a target row outside the table or a history length outside [0, L]");
    for (int64_t l = 0; l < histLen.p[b] && a.ok(); l++)
      if (hist.p[b * L + l] < 0 || hist.p[b * L + l] >= V) a.type_error("got a behaviour row outside the table");
  }
  if (!a.ok()) return a.done();
  sim_tier(table.p, D, target.p, hist.p, histLen.p, B, L, N, counts.p, sims.p);
  return a.done();
}

void init_simtier(Napi::Env env, Napi::Object exports) { MM_EXPORT(simTier); }

}  // namespace mm
