// Fused kernels for the hot paths of CTR and contrastive training (DIN attention, InfoNCE).
//
// DIN attention works on the valid (sample, behaviour) pairs only: a masked pair has weight 0
// and receives no gradient, so computing its MLP is pure waste (about half of the pairs at
// lengths uniform in [10, 100]). Pairs are listed sample by sample (offsets[b]..offsets[b+1]),
// which lets every per-sample pass run in parallel over samples without write conflicts.
//
// The activations here use a polynomial exp that the compiler vectorises: glibc's expf is
// called one element at a time, and the attention unit takes a sigmoid of millions of pair
// activations per step.
#include "common.h"
#include <omp.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

namespace mm {

void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);

static inline float fsigmoid(float x) { return 1.f / (1.f + fexp(-x)); }

enum FusedAct { F_NONE = 0, F_RELU = 1, F_SIGMOID = 2, F_TANH = 3, F_PRELU = 4 };

static bool valid_act(Napi::Env env, int act) {
  if (act >= F_NONE && act <= F_PRELU) return true;
  fail(env, ("mmctr native: unknown activation code " + std::to_string(act)).c_str());
  return false;
}

// Sizes arrive as JS numbers: a negative one would turn into a huge allocation or a wild
// pointer, so every kernel refuses them first.
static bool sizes_ok(Napi::Env env, std::initializer_list<int64_t> sizes, const char* kernel) {
  for (int64_t v : sizes)
    if (v < 0) {
      Napi::RangeError::New(env, std::string("mmctr native: ") + kernel + " got a negative size").ThrowAsJavaScriptException();
      return false;
    }
  return true;
}

// Checks that offsets describe `groups` consecutive, non-decreasing row ranges from row 0 to
// `rows` (rows < 0: wherever the last offset says).
static bool check_offsets(Napi::Env env, const I32& off, int64_t groups, int64_t rows) {
  if (groups < 0) {
    fail(env, "mmctr native: a negative group count");
    return false;
  }
  if (!need(env, off.n, groups + 1, "offsets")) return false;
  if (off.p[0] != 0 || (rows >= 0 && off.p[groups] != rows)) {
    fail(env, "mmctr native: offsets must start at 0 and end at the row count");
    return false;
  }
  for (int64_t g = 0; g < groups; g++)
    if (off.p[g + 1] < off.p[g]) {
      fail(env, "mmctr native: offsets must be non-decreasing");
      return false;
    }
  return true;
}

// Checks that pair p of group b addresses a behaviour of sample b.
static bool check_pairs(Napi::Env env, const I32& pairs, const I32& off, int64_t B, int64_t L) {
  const int64_t n = off.p[B];
  if (!need(env, pairs.n, n, "pairs")) return false;
  for (int64_t b = 0; b < B; b++)
    for (int64_t p = off.p[b]; p < off.p[b + 1]; p++)
      if (pairs.p[p] < b * L || pairs.p[p] >= (b + 1) * L) {
        fail(env, "mmctr native: pairs must list behaviours of their own sample (b * L + l)");
        return false;
      }
  return true;
}

// dinCompact(mask, B, L, offsets Int32[B+1], pairs Int32[B*L]) -> n: lists the pairs whose mask
// is non-zero, sample by sample.
static Napi::Value dinCompact(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 mask;
  I32 off, pairs;
  if (!f32(info, 0, mask, "mask") || !i32(info, 3, off, "offsets") || !i32(info, 4, pairs, "pairs"))
    return env.Undefined();
  const int64_t B = int64(info, 1), L = int64(info, 2);
  if (!sizes_ok(env, {B, L}, "dinCompact")) return env.Undefined();
  if (!need(env, mask.n, B * L, "mask") || !need(env, off.n, B + 1, "offsets") || !need(env, pairs.n, B * L, "pairs"))
    return env.Undefined();
  int32_t n = 0;
  for (int64_t b = 0; b < B; b++) {
    off.p[b] = n;
    const float* m = mask.p + b * L;
    for (int64_t l = 0; l < L; l++)
      if (m[l] != 0.f) pairs.p[n++] = (int32_t)(b * L + l);
  }
  off.p[B] = n;
  return Napi::Number::New(env, n);
}

// dinPairs(q [B,D], keys [B*L,D], B, L, D, offsets, pairs, x [n,2D]): x[p] = [k, q_b * k], the
// per-pair inputs of the first attention layer once q's own term is split off.
static Napi::Value dinPairs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 q, keys, x;
  I32 off, pairs;
  if (!f32(info, 0, q, "q") || !f32(info, 1, keys, "keys") || !i32(info, 5, off, "offsets") ||
      !i32(info, 6, pairs, "pairs") || !f32(info, 7, x, "x"))
    return env.Undefined();
  const int64_t B = int64(info, 2), L = int64(info, 3), D = int64(info, 4);
  if (!sizes_ok(env, {B, L, D}, "dinPairs")) return env.Undefined();
  if (!need(env, q.n, B * D, "q") || !need(env, keys.n, B * L * D, "keys") || !check_offsets(env, off, B, -1) ||
      !check_pairs(env, pairs, off, B, L) || !need(env, x.n, (int64_t)off.p[B] * 2 * D, "x"))
    return env.Undefined();
#pragma omp parallel for schedule(dynamic, 16) if (par((int64_t)off.p[B] * D * 2))
  for (int64_t b = 0; b < B; b++) {
    const float* __restrict qb = q.p + b * D;
    for (int64_t p = off.p[b]; p < off.p[b + 1]; p++) {
      const float* __restrict k = keys.p + (int64_t)pairs.p[p] * D;
      float* __restrict xp = x.p + p * 2 * D;
      for (int64_t c = 0; c < D; c++) {
        xp[c] = k[c];
        xp[D + c] = qb[c] * k[c];
      }
    }
  }
  return env.Undefined();
}

// dinPairsBackward(q, keys, gx [n,2D], B, L, D, offsets, pairs, gq|null, gKeys|null): the
// gradient of x = [k, q_b * k], accumulated into gq and gKeys.
static Napi::Value dinPairsBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 q, keys, gx, gq, gk;
  I32 off, pairs;
  if (!f32(info, 0, q, "q") || !f32(info, 1, keys, "keys") || !f32(info, 2, gx, "gx") ||
      !i32(info, 6, off, "offsets") || !i32(info, 7, pairs, "pairs") || !f32(info, 8, gq, "gq", true) ||
      !f32(info, 9, gk, "gKeys", true))
    return env.Undefined();
  const int64_t B = int64(info, 3), L = int64(info, 4), D = int64(info, 5);
  if (!sizes_ok(env, {B, L, D}, "dinPairsBackward")) return env.Undefined();
  if (!need(env, q.n, B * D, "q") || !need(env, keys.n, B * L * D, "keys") || !check_offsets(env, off, B, -1) ||
      !check_pairs(env, pairs, off, B, L) || !need(env, gx.n, (int64_t)off.p[B] * 2 * D, "gx") ||
      (gq.p && !need(env, gq.n, B * D, "gq")) || (gk.p && !need(env, gk.n, B * L * D, "gKeys")))
    return env.Undefined();
#pragma omp parallel for schedule(dynamic, 16) if (par((int64_t)off.p[B] * D * 3))
  for (int64_t b = 0; b < B; b++) {
    const float* __restrict qb = q.p + b * D;
    float* __restrict gqb = gq.p ? gq.p + b * D : nullptr;
    for (int64_t p = off.p[b]; p < off.p[b + 1]; p++) {
      const int64_t row = pairs.p[p];
      const float* __restrict g = gx.p + p * 2 * D;
      if (gk.p) {
        float* __restrict o = gk.p + row * D;
        for (int64_t c = 0; c < D; c++) o[c] += g[c] + qb[c] * g[D + c];
      }
      if (gqb) {
        const float* __restrict k = keys.p + row * D;
        for (int64_t c = 0; c < D; c++) gqb[c] += k[c] * g[D + c];
      }
    }
  }
  return env.Undefined();
}

static inline float act_apply(int act, float z, float alpha) {
  switch (act) {
    case F_RELU: return z > 0.f ? z : 0.f;
    case F_SIGMOID: return fsigmoid(z);
    case F_TANH: return 2.f * fsigmoid(2.f * z) - 1.f;
    case F_PRELU: return z > 0.f ? z : alpha * z;
    default: return z;
  }
}

template <int ACT>
static inline void act_row(float* __restrict z, float* __restrict y, const float* __restrict bias,
                           const float* __restrict gbias, const float* __restrict alpha, int64_t cols) {
#pragma omp simd
  for (int64_t c = 0; c < cols; c++) {
    float v = z[c] + (bias ? bias[c] : 0.f) + (gbias ? gbias[c] : 0.f);
    z[c] = v;
    y[c] = act_apply(ACT, v, alpha ? alpha[c] : 0.f);
  }
}

// biasActivationEx(z, rows, cols, bias|null, groupBias|null, offsets|null, groups, act,
// alpha|null, y): z += bias (per column) + groupBias[g] (per group of rows, offsets) in place,
// then y = act(z). y may be z itself, except for PReLU, whose backward needs z.
static Napi::Value biasActivationEx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 z, bias, gbias, alpha, y;
  I32 off;
  if (!f32(info, 0, z, "z") || !f32(info, 3, bias, "bias", true) || !f32(info, 4, gbias, "groupBias", true) ||
      !i32(info, 5, off, "offsets", true) || !f32(info, 8, alpha, "alpha", true) || !f32(info, 9, y, "y"))
    return env.Undefined();
  const int64_t rows = int64(info, 1), cols = int64(info, 2), groups = int64(info, 6);
  const int act = (int)int64(info, 7);
  if (!sizes_ok(env, {rows, cols}, "biasActivationEx")) return env.Undefined();
  if (!valid_act(env, act) || !need(env, z.n, rows * cols, "z") || !need(env, y.n, rows * cols, "y") ||
      (bias.p && !need(env, bias.n, cols, "bias")) || (act == F_PRELU && !need(env, alpha.n, cols, "alpha")))
    return env.Undefined();
  if (act == F_PRELU && y.p == z.p) { fail(env, "mmctr native: PReLU needs y separate from z"); return env.Undefined(); }
  if (gbias.p && (!off.p || !check_offsets(env, off, groups, rows) || !need(env, gbias.n, groups * cols, "groupBias")))
    return env.Undefined();
  auto rowfn = [&](int64_t r, const float* gb) {
    float* zr = z.p + r * cols;
    float* yr = y.p + r * cols;
    switch (act) {
      case F_RELU: act_row<F_RELU>(zr, yr, bias.p, gb, nullptr, cols); break;
      case F_SIGMOID: act_row<F_SIGMOID>(zr, yr, bias.p, gb, nullptr, cols); break;
      case F_TANH: act_row<F_TANH>(zr, yr, bias.p, gb, nullptr, cols); break;
      case F_PRELU: act_row<F_PRELU>(zr, yr, bias.p, gb, alpha.p, cols); break;
      default: act_row<F_NONE>(zr, yr, bias.p, gb, nullptr, cols);
    }
  };
  if (gbias.p) {
#pragma omp parallel for schedule(dynamic, 16) if (par(rows * cols * 4))
    for (int64_t g = 0; g < groups; g++)
      for (int64_t r = off.p[g]; r < off.p[g + 1]; r++) rowfn(r, gbias.p + g * cols);
  } else {
#pragma omp parallel for schedule(static) if (par(rows * cols * 4))
    for (int64_t r = 0; r < rows; r++) rowfn(r, nullptr);
  }
  return env.Undefined();
}

// activationBackwardEx(z, y, gy, rows, cols, act, alpha|null, gz, galpha|null, gbias|null):
// gz = gy * act'(z) (overwritten; gz may be gy), galpha += the PReLU slope gradient, gbias +=
// column sums of gz. z is read for PReLU only, y for sigmoid / tanh / ReLU.
static Napi::Value activationBackwardEx(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 z, y, gy, alpha, gz, galpha, gbias;
  if (!f32(info, 0, z, "z", true) || !f32(info, 1, y, "y", true) || !f32(info, 2, gy, "gy") ||
      !f32(info, 6, alpha, "alpha", true) || !f32(info, 7, gz, "gz") || !f32(info, 8, galpha, "galpha", true) ||
      !f32(info, 9, gbias, "gbias", true))
    return env.Undefined();
  const int64_t rows = int64(info, 3), cols = int64(info, 4);
  const int act = (int)int64(info, 5);
  if (!sizes_ok(env, {rows, cols}, "activationBackwardEx")) return env.Undefined();
  const int64_t n = rows * cols;
  if (!valid_act(env, act) || !need(env, gy.n, n, "gy") || !need(env, gz.n, n, "gz") ||
      (gbias.p && !need(env, gbias.n, cols, "gbias")) || (galpha.p && !need(env, galpha.n, cols, "galpha")))
    return env.Undefined();
  if (act == F_PRELU && (!need(env, z.n, n, "z") || !need(env, alpha.n, cols, "alpha"))) return env.Undefined();
  if ((act == F_RELU || act == F_SIGMOID || act == F_TANH) && !need(env, y.n, n, "y")) return env.Undefined();
  const int T = par(n * 2) ? threads() : 1;
  const bool reduce = gbias.p || galpha.p;
  std::vector<float> part(reduce ? (size_t)T * cols * 2 : 0, 0.f);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    float* pb = reduce ? part.data() + (size_t)t * cols * 2 : nullptr;
    float* pa = reduce ? pb + cols : nullptr;
    const int64_t r0 = rows * t / T, r1 = rows * (t + 1) / T;
    for (int64_t r = r0; r < r1; r++) {
      const float* __restrict g = gy.p + r * cols;
      float* o = gz.p + r * cols;
      switch (act) {
        case F_RELU: {
          const float* __restrict yr = y.p + r * cols;
#pragma omp simd
          for (int64_t c = 0; c < cols; c++) o[c] = yr[c] > 0.f ? g[c] : 0.f;
          break;
        }
        case F_SIGMOID: {
          const float* __restrict yr = y.p + r * cols;
#pragma omp simd
          for (int64_t c = 0; c < cols; c++) o[c] = g[c] * yr[c] * (1.f - yr[c]);
          break;
        }
        case F_TANH: {
          const float* __restrict yr = y.p + r * cols;
#pragma omp simd
          for (int64_t c = 0; c < cols; c++) o[c] = g[c] * (1.f - yr[c] * yr[c]);
          break;
        }
        case F_PRELU: {
          const float* __restrict zr = z.p + r * cols;
          if (pa)
            for (int64_t c = 0; c < cols; c++) pa[c] += zr[c] > 0.f ? 0.f : g[c] * zr[c];
#pragma omp simd
          for (int64_t c = 0; c < cols; c++) o[c] = zr[c] > 0.f ? g[c] : alpha.p[c] * g[c];
          break;
        }
        default:
          if (o != g) std::memcpy(o, g, sizeof(float) * cols);
      }
      if (pb)
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) pb[c] += o[c];
    }
  }
  for (int t = 0; t < T && reduce; t++)
    for (int64_t c = 0; c < cols; c++) {
      if (gbias.p) gbias.p[c] += part[(size_t)t * cols * 2 + c];
      if (galpha.p && act == F_PRELU) galpha.p[c] += part[(size_t)t * cols * 2 + cols + c];
    }
  return env.Undefined();
}

// groupSums(x [rows,cols], rows, cols, offsets, groups, out [groups,cols]): out[g] = sum of the
// rows of group g (overwrites).
static Napi::Value groupSums(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, out;
  I32 off;
  if (!f32(info, 0, x, "x") || !i32(info, 3, off, "offsets") || !f32(info, 5, out, "out")) return env.Undefined();
  const int64_t rows = int64(info, 1), cols = int64(info, 2), groups = int64(info, 4);
  if (!sizes_ok(env, {rows, cols}, "groupSums")) return env.Undefined();
  if (!need(env, x.n, rows * cols, "x") || !check_offsets(env, off, groups, rows) ||
      !need(env, out.n, groups * cols, "out"))
    return env.Undefined();
#pragma omp parallel for schedule(dynamic, 16) if (par(rows * cols))
  for (int64_t g = 0; g < groups; g++) {
    float* __restrict o = out.p + g * cols;
    std::fill(o, o + cols, 0.f);
    for (int64_t r = off.p[g]; r < off.p[g + 1]; r++) {
      const float* __restrict xr = x.p + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) o[c] += xr[c];
    }
  }
  return env.Undefined();
}

// dinScores(h [n,H], H, wOut [H], bOut, keys [B*L,D], B, L, D, offsets, pairs, softmax,
// weights [B*L], pooled [B,D]): score_p = h_p . wOut + bOut; weights = the scores (or their
// softmax over each sample's pairs), 0 at masked pairs; pooled[b] = sum_p weight_p k_p.
static Napi::Value dinScores(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 h, w, keys, weights, pooled;
  I32 off, pairs;
  if (!f32(info, 0, h, "h") || !f32(info, 2, w, "wOut") || !f32(info, 4, keys, "keys") ||
      !i32(info, 8, off, "offsets") || !i32(info, 9, pairs, "pairs") || !f32(info, 11, weights, "weights") ||
      !f32(info, 12, pooled, "pooled"))
    return env.Undefined();
  const int64_t H = int64(info, 1), B = int64(info, 5), L = int64(info, 6), D = int64(info, 7);
  if (!sizes_ok(env, {H, B, L, D}, "dinScores")) return env.Undefined();
  const float bOut = (float)num(info, 3);
  const bool soft = boolean(info, 10);
  if (!need(env, w.n, H, "wOut") || !need(env, keys.n, B * L * D, "keys") || !check_offsets(env, off, B, -1) ||
      !check_pairs(env, pairs, off, B, L) || !need(env, h.n, (int64_t)off.p[B] * H, "h") ||
      !need(env, weights.n, B * L, "weights") || !need(env, pooled.n, B * D, "pooled"))
    return env.Undefined();
#pragma omp parallel for schedule(dynamic, 16) if (par((int64_t)off.p[B] * (H + D)))
  for (int64_t b = 0; b < B; b++) {
    float* __restrict wb = weights.p + b * L;
    float* __restrict pb = pooled.p + b * D;
    std::fill(wb, wb + L, 0.f);
    std::fill(pb, pb + D, 0.f);
    const int64_t p0 = off.p[b], p1 = off.p[b + 1];
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t p = p0; p < p1; p++) {
      const float* __restrict hp = h.p + p * H;
      float s = bOut;
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < H; c++) s += hp[c] * w.p[c];
      wb[pairs.p[p] - b * L] = s;
      mx = std::max(mx, s);
    }
    if (soft && p1 > p0) {
      double sum = 0;
      for (int64_t p = p0; p < p1; p++) {
        float& v = wb[pairs.p[p] - b * L];
        v = std::exp(v - mx);
        sum += v;
      }
      const float inv = (float)(1.0 / sum);
      for (int64_t p = p0; p < p1; p++) wb[pairs.p[p] - b * L] *= inv;
    }
    for (int64_t p = p0; p < p1; p++) {
      const float wp = wb[pairs.p[p] - b * L];
      const float* __restrict k = keys.p + (int64_t)pairs.p[p] * D;
#pragma omp simd
      for (int64_t c = 0; c < D; c++) pb[c] += wp * k[c];
    }
  }
  return env.Undefined();
}

// dinScoresBackward(h, H, wOut, weights, keys, B, L, D, offsets, pairs, softmax,
// gWeights|null, gPooled|null, gKeys|null, gh [n,H], gwOut|null, gbOut|null): from the
// gradients of weights and pooled to the gradient of the last hidden layer (gh, overwritten),
// of the output layer (accumulated) and of the keys through the pooling (accumulated).
static Napi::Value dinScoresBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 h, w, weights, keys, gW, gP, gK, gh, gw, gb;
  I32 off, pairs;
  if (!f32(info, 0, h, "h") || !f32(info, 2, w, "wOut") || !f32(info, 3, weights, "weights") ||
      !f32(info, 4, keys, "keys") || !i32(info, 8, off, "offsets") || !i32(info, 9, pairs, "pairs") ||
      !f32(info, 11, gW, "gWeights", true) || !f32(info, 12, gP, "gPooled", true) || !f32(info, 13, gK, "gKeys", true) ||
      !f32(info, 14, gh, "gh") || !f32(info, 15, gw, "gwOut", true) || !f32(info, 16, gb, "gbOut", true))
    return env.Undefined();
  const int64_t H = int64(info, 1), B = int64(info, 5), L = int64(info, 6), D = int64(info, 7);
  if (!sizes_ok(env, {H, B, L, D}, "dinScoresBackward")) return env.Undefined();
  const bool soft = boolean(info, 10);
  if (!need(env, w.n, H, "wOut") || !need(env, weights.n, B * L, "weights") || !need(env, keys.n, B * L * D, "keys") ||
      !check_offsets(env, off, B, -1) || !check_pairs(env, pairs, off, B, L))
    return env.Undefined();
  const int64_t n = off.p[B];
  if (!need(env, h.n, n * H, "h") || !need(env, gh.n, n * H, "gh") || (gW.p && !need(env, gW.n, B * L, "gWeights")) ||
      (gP.p && !need(env, gP.n, B * D, "gPooled")) || (gK.p && !need(env, gK.n, B * L * D, "gKeys")) ||
      (gw.p && !need(env, gw.n, H, "gwOut")) || (gb.p && !need(env, gb.n, 1, "gbOut")))
    return env.Undefined();
  const int T = par(n * (H + D) * 2) ? threads() : 1;
  std::vector<float> part((size_t)T * (H + 1), 0.f);
#pragma omp parallel num_threads(T)
  {
    float* acc = part.data() + (size_t)omp_get_thread_num() * (H + 1);
    std::vector<float> gs;
    // A fixed sample-to-thread assignment: the per-thread sums of the output-layer gradient
    // must add up in the same order every run (a dynamic schedule made training differ in the
    // last bits from run to run).
#pragma omp for schedule(static, 16)
    for (int64_t b = 0; b < B; b++) {
      const int64_t p0 = off.p[b], p1 = off.p[b + 1];
      gs.resize(p1 - p0);
      const float* __restrict gpb = gP.p ? gP.p + b * D : nullptr;
      double dot = 0;
      for (int64_t p = p0; p < p1; p++) {
        const int64_t row = pairs.p[p];
        const float wp = weights.p[row];
        float g = gW.p ? gW.p[row] : 0.f;
        if (gpb) {
          const float* __restrict k = keys.p + row * D;
          float s = 0.f;
#pragma omp simd reduction(+ : s)
          for (int64_t c = 0; c < D; c++) s += gpb[c] * k[c];
          g += s;
          if (gK.p) {
            float* __restrict o = gK.p + row * D;
#pragma omp simd
            for (int64_t c = 0; c < D; c++) o[c] += wp * gpb[c];
          }
        }
        gs[p - p0] = g;
        dot += (double)g * wp;
      }
      for (int64_t p = p0; p < p1; p++) {
        float g = gs[p - p0];
        if (soft) g = weights.p[pairs.p[p]] * (g - (float)dot);
        const float* __restrict hp = h.p + p * H;
        float* __restrict o = gh.p + p * H;
#pragma omp simd
        for (int64_t c = 0; c < H; c++) {
          o[c] = g * w.p[c];
          acc[c] += g * hp[c];
        }
        acc[H] += g;
      }
    }
  }
  for (int t = 0; t < T; t++) {
    const float* a = part.data() + (size_t)t * (H + 1);
    if (gw.p) for (int64_t c = 0; c < H; c++) gw.p[c] += a[c];
    if (gb.p) gb.p[0] += a[H];
  }
  return env.Undefined();
}

// symmetricInfoNCE(z1 [N,d], z2 [N,d], N, d, queue [Q,d]|null, Q, invTau, g [N,N+Q], g2 [N,Q]|null)
// -> loss. Logits S = z1 z2^T / tau with R1 = z1 queue^T / tau beside them (g) and R2 = z2
// queue^T / tau (g2). Loss = (mean_i CE(row i of [S R1], i) + mean_j CE(row j of [S^T R2], j)) / 2.
// On return g and g2 hold dLoss/dLogits (the caller scales by the upstream gradient and 1/tau).
//
// One exp per logit: e_ij = exp(S_ij - r_i) with r_i the row max gives the row sums, and the
// column sums are sum_i e_ij exp(r_i - M) (M the largest row max), whose factor is per row. That
// is exact unless a column's largest logit lies ~60 below M, where e_ij would have underflowed;
// then the kernel recomputes column-wise from the logits.
static Napi::Value symmetricInfoNCE(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 z1, z2, qu, g, g2;
  if (!f32(info, 0, z1, "z1") || !f32(info, 1, z2, "z2") || !f32(info, 4, qu, "queue", true) || !f32(info, 7, g, "g") ||
      !f32(info, 8, g2, "g2", true))
    return env.Undefined();
  const int64_t N = int64(info, 2), d = int64(info, 3), Q = qu.p ? int64(info, 5) : 0;
  const float invTau = (float)num(info, 6);
  const int64_t W = N + Q;
  if (N < 1 || d < 1 || Q < 0) { fail(env, "mmctr native: symmetricInfoNCE needs N >= 1, d >= 1 and Q >= 0"); return env.Undefined(); }
  if (!need(env, z1.n, N * d, "z1") || !need(env, z2.n, N * d, "z2") || !need(env, g.n, N * W, "g") ||
      (Q > 0 && (!need(env, qu.n, Q * d, "queue") || !g2.p || !need(env, g2.n, N * Q, "g2"))))
    return env.Undefined();
  sgemm(false, true, (int)N, (int)N, (int)d, invTau, z1.p, (int)d, z2.p, (int)d, 0.f, g.p, (int)W);
  if (Q > 0) {
    sgemm(false, true, (int)N, (int)Q, (int)d, invTau, z1.p, (int)d, qu.p, (int)d, 0.f, g.p + N, (int)W);
    sgemm(false, true, (int)N, (int)Q, (int)d, invTau, z2.p, (int)d, qu.p, (int)d, 0.f, g2.p, (int)Q);
  }
  std::vector<float> diag(N), rmax(N), lseR(N), lseC(N);
  for (int64_t i = 0; i < N; i++) diag[i] = g.p[i * W + i];
  const bool parallel = par(N * W * 4);
  const int T = parallel ? threads() : 1;
  // Row maxima (over S and R1) and the row sums of e = exp(S - r), kept in g.
  float M = -std::numeric_limits<float>::infinity();
#pragma omp parallel for schedule(static) reduction(max : M) num_threads(T)
  for (int64_t i = 0; i < N; i++) {
    float* row = g.p + i * W;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t j = 0; j < W; j++) mx = std::max(mx, row[j]);
    rmax[i] = mx;
    M = std::max(M, mx);
  }
  std::vector<float> cpart((size_t)T * N, 0.f);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    float* __restrict cs = cpart.data() + (size_t)t * N;
    const int64_t i0 = N * t / T, i1 = N * (t + 1) / T;
    for (int64_t i = i0; i < i1; i++) {
      float* __restrict row = g.p + i * W;
      const float r = rmax[i], a = fexp(r - M);
      float s = 0.f;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < W; j++) {
        const float e = fexp(row[j] - r);
        row[j] = e;
        s += e;
      }
      lseR[i] = r + std::log(s);
#pragma omp simd
      for (int64_t j = 0; j < N; j++) cs[j] += row[j] * a;
    }
  }
  // Column sums: the S part from the partials (relative to M), the R2 part row by row of g2.
  bool exact = true;
  for (int64_t j = 0; j < N; j++) {
    float s = 0.f;
    for (int t = 0; t < T; t++) s += cpart[(size_t)t * N + j];
    if (!(s > 1e-26f)) exact = false;
    lseC[j] = M + std::log(s);
  }
  if (!exact) {
    // Some column lies far below every row maximum, so its e_ij underflowed: recompute the
    // logits and take that column's normaliser directly.
    sgemm(false, true, (int)N, (int)N, (int)d, invTau, z1.p, (int)d, z2.p, (int)d, 0.f, g.p, (int)W);
    if (Q > 0) sgemm(false, true, (int)N, (int)Q, (int)d, invTau, z1.p, (int)d, qu.p, (int)d, 0.f, g.p + N, (int)W);
    std::vector<float> cmax(N, -std::numeric_limits<float>::infinity());
    std::vector<double> csum(N, 0.0);
    for (int64_t i = 0; i < N; i++)
      for (int64_t j = 0; j < N; j++) cmax[j] = std::max(cmax[j], g.p[i * W + j]);
    for (int64_t i = 0; i < N; i++)
      for (int64_t j = 0; j < N; j++) csum[j] += std::exp((double)g.p[i * W + j] - cmax[j]);
    for (int64_t j = 0; j < N; j++) lseC[j] = cmax[j] + (float)std::log(csum[j]);
  }
  if (Q > 0) {
    // R2 row j joins column j's normaliser: lseC_j = log(exp(lseC_j) + sum_k exp(R2_jk)).
#pragma omp parallel for schedule(static) num_threads(T)
    for (int64_t j = 0; j < N; j++) {
      float* row = g2.p + j * Q;
      float mx = lseC[j];
      for (int64_t k = 0; k < Q; k++) mx = std::max(mx, row[k]);
      double s = std::exp((double)lseC[j] - mx);
      for (int64_t k = 0; k < Q; k++) s += std::exp((double)row[k] - mx);
      lseC[j] = mx + (float)std::log(s);
    }
  }
  double loss = 0;
  for (int64_t i = 0; i < N; i++) loss += (lseR[i] - diag[i]) + (lseC[i] - diag[i]);
  loss /= 2.0 * (double)N;
  // dLoss/dS_ij = (pR_ij + pC_ij - 2 delta_ij) / 2N with pR = e / sumR_i and
  // pC = exp(S_ij - lseC_j) = e_ij exp(r_i - lseC_j).
  const float h = 0.5f / (float)N;
  std::vector<float> vC(N);
  if (exact)
    for (int64_t j = 0; j < N; j++) vC[j] = std::exp(M - lseC[j]);
#pragma omp parallel for schedule(static) num_threads(T)
  for (int64_t i = 0; i < N; i++) {
    float* __restrict row = g.p + i * W;
    const float r = rmax[i], u = fexp(r - lseR[i]) * h;
    if (exact) {
      // exp(r_i - lseC_j) = exp(r_i - M) exp(M - lseC_j); both factors are in range here.
      const float a = fexp(r - M) * h;
      const float* __restrict v = vC.data();
#pragma omp simd
      for (int64_t j = 0; j < N; j++) row[j] *= u + a * v[j];
#pragma omp simd
      for (int64_t j = N; j < W; j++) row[j] *= u;
    } else {
      // g holds the logits themselves on this path.
      for (int64_t j = 0; j < W; j++) {
        const double s = row[j];
        row[j] = (float)(std::exp(s - lseR[i]) * h + (j < N ? std::exp(s - lseC[j]) * h : 0.0));
      }
    }
    row[i] -= 2.f * h;
  }
  if (Q > 0) {
#pragma omp parallel for schedule(static) num_threads(T)
    for (int64_t j = 0; j < N; j++) {
      float* row = g2.p + j * Q;
      for (int64_t k = 0; k < Q; k++) row[k] = fexp(row[k] - lseC[j]) * h;
    }
  }
  return Napi::Number::New(env, loss);
}

void init_fused(Napi::Env env, Napi::Object exports) {
  MM_EXPORT(dinCompact);
  MM_EXPORT(dinPairs);
  MM_EXPORT(dinPairsBackward);
  MM_EXPORT(biasActivationEx);
  MM_EXPORT(activationBackwardEx);
  MM_EXPORT(groupSums);
  MM_EXPORT(dinScores);
  MM_EXPORT(dinScoresBackward);
  MM_EXPORT(symmetricInfoNCE);
}

}  // namespace mm
