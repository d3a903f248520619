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
#include <vector>

namespace mm {

// Lanes of the shared kernel's accumulators: one AVX-512 register of behaviours.
constexpr int kLanes = 16;

static inline float clamp_cos(float dot) { return std::min(1.f, std::max(-1.f, dot)); }

static inline int64_t tier_of(float cos, double scale, int64_t N) {
  return std::min<int64_t>(N - 1, std::max<int64_t>(0, (int64_t)std::floor(((double)cos + 1.0) * scale)));
}

// The ranking request's case: every target has the same behaviours (hist rows and lengths all
// equal sample 0's). The behaviours' vectors are transposed once ([D, m], m padded to kLanes),
// so a block of kLanes behaviours is scored against a target by broadcast FMAs into one
// register, without the loop kernel's horizontal sum per pair: a fifth of its time on
// 200 x 100 x 128. The sums run in another order than the loop kernel's, so a cosine may differ
// from it in the last bit (and, rarely, land in the neighbouring tier when it sits on a boundary).
MM_HOT static void sim_tier_shared(const float* table, int64_t D, const int32_t* target, const int32_t* hist0, int64_t len, int64_t B,
                                   int64_t L, int64_t N, float* counts, float* sims) {
  const double scale = 0.5 * (double)N;
  std::vector<int32_t> at;  // positions (in the history) of the behaviours that have a vector
  for (int64_t l = 0; l < len; l++)
    if (hist0[l] != 0) at.push_back((int32_t)l);
  const int64_t m = (int64_t)at.size(), W = (m + kLanes - 1) / kLanes * kLanes;
  std::vector<float> kt(D * W, 0.f);
  for (int64_t j = 0; j < m; j++) {
    const float* k = table + (int64_t)hist0[at[j]] * D;
    for (int64_t d = 0; d < D; d++) kt[d * W + j] = k[d];
  }
  const float* const K = kt.data();
  const int32_t* const pos = at.data();
  // kRows targets at a time: kRows independent accumulator chains per behaviour block, so the
  // FMAs' latency is hidden, and each loaded block of keys serves them all.
  constexpr int kRows = 8;
  const int64_t groups = (B + kRows - 1) / kRows;
#pragma omp parallel for schedule(static) num_threads(threads()) if (par(B * m * D))
  for (int64_t g = 0; g < groups; g++) {
    const int64_t b0 = g * kRows, rows = std::min<int64_t>(kRows, B - b0);
    const float* q[kRows];
    for (int r = 0; r < kRows; r++) {
      const int64_t b = b0 + std::min<int64_t>(r, rows - 1);
      q[r] = target[b] ? table + (int64_t)target[b] * D : nullptr;
      if (r < rows) {
        std::fill(counts + b * N, counts + (b + 1) * N, 0.f);
        if (sims) std::fill(sims + b * L, sims + (b + 1) * L, 0.f);
      }
    }
    // Rows without a vector read the first real target's row (or nothing at all) and are not counted.
    const float* any = nullptr;
    for (int r = 0; r < kRows; r++) any = any ? any : q[r];
    if (!any) continue;
    const float* qs[kRows];
    for (int r = 0; r < kRows; r++) qs[r] = q[r] ? q[r] : any;
    for (int64_t j0 = 0; j0 < m; j0 += kLanes) {
      float acc[kRows][kLanes] = {};
      for (int64_t d = 0; d < D; d++) {
        const float* __restrict k = K + d * W + j0;
        for (int r = 0; r < kRows; r++) {
          const float qd = qs[r][d];
#pragma omp simd
          for (int j = 0; j < kLanes; j++) acc[r][j] += qd * k[j];
        }
      }
      for (int r = 0; r < rows; r++) {
        if (!q[r]) continue;
        const int64_t b = b0 + r;
        for (int64_t j = j0; j < std::min(m, j0 + kLanes); j++) {
          const float dot = clamp_cos(acc[r][j - j0]);
          if (sims) sims[b * L + pos[j]] = dot;
          counts[b * N + tier_of(dot, scale, N)] += 1.f;
        }
      }
    }
  }
}

/** Whether every sample has sample 0's history (a ranking request). */
static bool same_history(const int32_t* hist, const int32_t* histLen, int64_t B, int64_t L) {
  for (int64_t b = 1; b < B; b++) {
    if (histLen[b] != histLen[0]) return false;
    if (!std::equal(hist, hist + histLen[0], hist + b * L)) return false;
  }
  return true;
}

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
      dot = clamp_cos(dot);
      if (s) s[l] = dot;
      c[tier_of(dot, scale, N)] += 1.f;
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
  if (B > 1 && same_history(hist.p, histLen.p, B, L))
    sim_tier_shared(table.p, D, target.p, hist.p, histLen.p[0], B, L, N, counts.p, sims.p);
  else
    sim_tier(table.p, D, target.p, hist.p, histLen.p, B, L, N, counts.p, sims.p);
  return a.done();
}

void init_simtier(Napi::Env env, Napi::Object exports) { MM_EXPORT(simTier); }

}  // namespace mm
