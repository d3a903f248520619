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
#include "codes.h"
#include <omp.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace mm {

void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc);

static inline float fsigmoid(float x) { return 1.f / (1.f + fexp(-x)); }

// Checks that offsets describe `groups` consecutive, non-decreasing row ranges from row 0 to
// `rows` (rows < 0: wherever the last offset says).
static bool check_offsets(Args& a, const I32& off, int64_t groups, int64_t rows) {
  if (!a.need(off, groups + 1, "offsets")) return false;
  if (off.p[0] != 0 || (rows >= 0 && off.p[groups] != rows)) { a.type_error("offsets must start at 0 and end at the row count"); return a.done(); }
  for (int64_t g = 0; g < groups; g++)
    if (off.p[g + 1] < off.p[g]) { a.type_error("offsets must be non-decreasing"); return a.done(); }
  return true;
}

// Checks that pair p of group b addresses a behaviour of sample b.
static bool check_pairs(Args& a, const I32& pairs, const I32& off, int64_t B, int64_t L) {
  if (!a.need(pairs, off.p[B], "pairs")) return false;
  for (int64_t b = 0; b < B; b++)
    for (int64_t p = off.p[b]; p < off.p[b + 1]; p++)
      if (pairs.p[p] < b * L || pairs.p[p] >= (b + 1) * L) { a.type_error("pairs must list behaviours of their own sample (b * L + l)"); return a.done(); }
  return true;
}

// The per-sample pair lists of the DIN kernels (offsets, pairs), checked against B samples of L
// behaviours; `rows` as in check_offsets.
static bool read_pairs(Args& a, I32& off, I32& pairs, int64_t B, int64_t L) {
  off = a.i32("offsets");
  pairs = a.i32("pairs");
  return a.ok() && check_offsets(a, off, B, -1) && check_pairs(a, pairs, off, B, L);
}

// Lists the pairs whose mask is non-zero, sample by sample; returns their count.
static int32_t din_compact(const float* mask, int64_t B, int64_t L, int32_t* off, int32_t* pairs) {
  int32_t n = 0;
  for (int64_t b = 0; b < B; b++) {
    off[b] = n;
    const float* m = mask + b * L;
    for (int64_t l = 0; l < L; l++)
      if (m[l] != 0.f) pairs[n++] = (int32_t)(b * L + l);
  }
  off[B] = n;
  return n;
}

// dinCompact(mask, B, L, offsets Int32[B+1], pairs Int32[B*L]) -> n: lists the pairs whose mask
// is non-zero, sample by sample.
static Napi::Value dinCompact(const Napi::CallbackInfo& info) {
  Args a(info, "dinCompact");
  F32 mask = a.f32("mask");
  const int64_t B = a.size("B"), L = a.size("L");
  I32 off = a.i32("offsets"), pairs = a.i32("pairs");
  a.need(mask, B * L, "mask");
  a.need(off, B + 1, "offsets");
  a.need(pairs, B * L, "pairs");
  if (!a.ok()) return a.done();
  return Napi::Number::New(a.env(), din_compact(mask.p, B, L, off.p, pairs.p));
}

// x[p] = [k, q_b * k] for every listed pair p of sample b.
MM_HOT static void din_pairs(const float* q, const float* keys, int64_t B, int64_t D, const int32_t* off, const int32_t* pairs, float* x) {
#pragma omp parallel for schedule(dynamic, 16) if (par((int64_t)off[B] * D * 2))
  for (int64_t b = 0; b < B; b++) {
    const float* __restrict qb = q + b * D;
    for (int64_t p = off[b]; p < off[b + 1]; p++) {
      const float* __restrict k = keys + (int64_t)pairs[p] * D;
      float* __restrict xp = x + p * 2 * D;
      for (int64_t c = 0; c < D; c++) {
        xp[c] = k[c];
        xp[D + c] = qb[c] * k[c];
      }
    }
  }
}

// dinPairs(q [B,D], keys [B*L,D], B, L, D, offsets, pairs, x [n,2D]): x[p] = [k, q_b * k], the
// per-pair inputs of the first attention layer once q's own term is split off.
static Napi::Value dinPairs(const Napi::CallbackInfo& info) {
  Args a(info, "dinPairs");
  F32 q = a.f32("q"), keys = a.f32("keys");
  const int64_t B = a.size("B"), L = a.size("L"), D = a.size("D");
  I32 off, pairs;
  read_pairs(a, off, pairs, B, L);
  F32 x = a.f32("x");
  a.need(q, B * D, "q");
  a.need(keys, B * L * D, "keys");
  if (a.ok()) a.need(x, (int64_t)off.p[B] * 2 * D, "x");
  if (!a.ok()) return a.done();
  din_pairs(q.p, keys.p, B, D, off.p, pairs.p, x.p);
  return a.done();
}

// The gradient of x = [k, q_b * k], accumulated into gq and gKeys (either may be null).
MM_HOT static void din_pairs_backward(const float* q, const float* keys, const float* gx, int64_t B, int64_t D, const int32_t* off,
                                      const int32_t* pairs, float* gq, float* gk) {
#pragma omp parallel for schedule(dynamic, 16) if (par((int64_t)off[B] * D * 3))
  for (int64_t b = 0; b < B; b++) {
    const float* __restrict qb = q + b * D;
    float* __restrict gqb = gq ? gq + b * D : nullptr;
    for (int64_t p = off[b]; p < off[b + 1]; p++) {
      const int64_t row = pairs[p];
      const float* __restrict g = gx + p * 2 * D;
      if (gk) {
        float* __restrict o = gk + row * D;
        for (int64_t c = 0; c < D; c++) o[c] += g[c] + qb[c] * g[D + c];
      }
      if (gqb) {
        const float* __restrict k = keys + row * D;
        for (int64_t c = 0; c < D; c++) gqb[c] += k[c] * g[D + c];
      }
    }
  }
}

// dinPairsBackward(q, keys, gx [n,2D], B, L, D, offsets, pairs, gq|null, gKeys|null): the
// gradient of x = [k, q_b * k], accumulated into gq and gKeys.
static Napi::Value dinPairsBackward(const Napi::CallbackInfo& info) {
  Args a(info, "dinPairsBackward");
  F32 q = a.f32("q"), keys = a.f32("keys"), gx = a.f32("gx");
  const int64_t B = a.size("B"), L = a.size("L"), D = a.size("D");
  I32 off, pairs;
  read_pairs(a, off, pairs, B, L);
  F32 gq = a.f32_or_null("gq"), gk = a.f32_or_null("gKeys");
  a.need(q, B * D, "q");
  a.need(keys, B * L * D, "keys");
  if (a.ok()) a.need(gx, (int64_t)off.p[B] * 2 * D, "gx");
  if (gq.p) a.need(gq, B * D, "gq");
  if (gk.p) a.need(gk, B * L * D, "gKeys");
  if (!a.ok()) return a.done();
  din_pairs_backward(q.p, keys.p, gx.p, B, D, off.p, pairs.p, gq.p, gk.p);
  return a.done();
}

static inline float act_apply(int act, float z, float alpha) {
  switch (act) {
    case ACT_RELU: return z > 0.f ? z : 0.f;
    case ACT_SIGMOID: return fsigmoid(z);
    case ACT_TANH: return 2.f * fsigmoid(2.f * z) - 1.f;
    case ACT_PRELU: return z > 0.f ? z : alpha * z;
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

// z += bias + groupBias[g] (rows of group g: offsets[g]..offsets[g+1]) in place, then y = act(z).
MM_HOT static void bias_activation_ex(float* z, int64_t rows, int64_t cols, const float* bias, const float* gbias, const int32_t* off,
                                      int64_t groups, int act, const float* alpha, float* y) {
  auto rowfn = [&](int64_t r, const float* gb) {
    float* zr = z + r * cols;
    float* yr = y + r * cols;
    switch (act) {
      case ACT_RELU: act_row<ACT_RELU>(zr, yr, bias, gb, nullptr, cols); break;
      case ACT_SIGMOID: act_row<ACT_SIGMOID>(zr, yr, bias, gb, nullptr, cols); break;
      case ACT_TANH: act_row<ACT_TANH>(zr, yr, bias, gb, nullptr, cols); break;
      case ACT_PRELU: act_row<ACT_PRELU>(zr, yr, bias, gb, alpha, cols); break;
      default: act_row<ACT_NONE>(zr, yr, bias, gb, nullptr, cols);
    }
  };
  if (gbias) {
#pragma omp parallel for schedule(dynamic, 16) if (par(rows * cols * 4))
    for (int64_t g = 0; g < groups; g++)
      for (int64_t r = off[g]; r < off[g + 1]; r++) rowfn(r, gbias + g * cols);
  } else {
#pragma omp parallel for schedule(static) if (par(rows * cols * 4))
    for (int64_t r = 0; r < rows; r++) rowfn(r, nullptr);
  }
}

// biasActivationEx(z, rows, cols, bias|null, groupBias|null, offsets|null, groups, act,
// alpha|null, y): z += bias (per column) + groupBias[g] (per group of rows, offsets) in place,
// then y = act(z). y may be z itself, except for PReLU, whose backward needs z.
static Napi::Value biasActivationEx(const Napi::CallbackInfo& info) {
  Args a(info, "biasActivationEx");
  F32 z = a.f32("z");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F32 bias = a.f32_or_null("bias"), gbias = a.f32_or_null("groupBias");
  I32 off = a.i32_or_null("offsets");
  const int64_t groups = a.size("groups", "group count");
  const int act = a.code("activation", kActivations);
  F32 alpha = a.f32_or_null("alpha"), y = a.f32("y");
  a.need(z, rows * cols, "z");
  a.need(y, rows * cols, "y");
  if (bias.p) a.need(bias, cols, "bias");
  if (act == ACT_PRELU) a.need(alpha, cols, "alpha");
  if (a.ok() && act == ACT_PRELU && y.p == z.p) a.type_error("PReLU needs y separate from z");
  if (a.ok() && gbias.p) {
    if (!off.p) a.type_error("groupBias needs offsets");
    else if (check_offsets(a, off, groups, rows)) a.need(gbias, groups * cols, "groupBias");
  }
  if (!a.ok()) return a.done();
  bias_activation_ex(z.p, rows, cols, bias.p, gbias.p, off.p, groups, act, alpha.p, y.p);
  return a.done();
}

// gz = gy * act'(z) per row range [r0, r1) (z read for PReLU, y for the others); the column sums
// of gz go to pb and the PReLU slope gradient to pa (both per thread, may be null).
MM_HOT static void activation_backward_rows(const float* z, const float* y, const float* gy, int64_t r0, int64_t r1, int64_t cols,
                                            int act, const float* alpha, float* gz, float* pb, float* pa) {
  for (int64_t r = r0; r < r1; r++) {
    const float* __restrict g = gy + r * cols;
    float* o = gz + r * cols;
    switch (act) {
      case ACT_RELU: {
        const float* __restrict yr = y + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) o[c] = yr[c] > 0.f ? g[c] : 0.f;
        break;
      }
      case ACT_SIGMOID: {
        const float* __restrict yr = y + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) o[c] = g[c] * yr[c] * (1.f - yr[c]);
        break;
      }
      case ACT_TANH: {
        const float* __restrict yr = y + r * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) o[c] = g[c] * (1.f - yr[c] * yr[c]);
        break;
      }
      case ACT_PRELU: {
        const float* __restrict zr = z + r * cols;
        if (pa)
          for (int64_t c = 0; c < cols; c++) pa[c] += zr[c] > 0.f ? 0.f : g[c] * zr[c];
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) o[c] = zr[c] > 0.f ? g[c] : alpha[c] * g[c];
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

static void activation_backward_ex(const float* z, const float* y, const float* gy, int64_t rows, int64_t cols, int act,
                                   const float* alpha, float* gz, float* galpha, float* gbias) {
  const int64_t n = rows * cols;
  const int T = par(n * 2) ? threads() : 1;
  const bool reduce = gbias || galpha;
  std::vector<float> part(reduce ? (size_t)T * cols * 2 : 0, 0.f);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    float* pb = reduce ? part.data() + (size_t)t * cols * 2 : nullptr;
    float* pa = reduce ? pb + cols : nullptr;
    activation_backward_rows(z, y, gy, rows * t / T, rows * (t + 1) / T, cols, act, alpha, gz, pb, pa);
  }
  for (int t = 0; t < T && reduce; t++)
    for (int64_t c = 0; c < cols; c++) {
      if (gbias) gbias[c] += part[(size_t)t * cols * 2 + c];
      if (galpha && act == ACT_PRELU) galpha[c] += part[(size_t)t * cols * 2 + cols + c];
    }
}

// activationBackwardEx(z, y, gy, rows, cols, act, alpha|null, gz, galpha|null, gbias|null):
// gz = gy * act'(z) (overwritten; gz may be gy), galpha += the PReLU slope gradient, gbias +=
// column sums of gz. z is read for PReLU only, y for sigmoid / tanh / ReLU.
static Napi::Value activationBackwardEx(const Napi::CallbackInfo& info) {
  Args a(info, "activationBackwardEx");
  F32 z = a.f32_or_null("z"), y = a.f32_or_null("y"), gy = a.f32("gy");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  const int act = a.code("activation", kActivations);
  F32 alpha = a.f32_or_null("alpha"), gz = a.f32("gz"), galpha = a.f32_or_null("galpha"), gbias = a.f32_or_null("gbias");
  const int64_t n = rows * cols;
  a.need(gy, n, "gy");
  a.need(gz, n, "gz");
  if (gbias.p) a.need(gbias, cols, "gbias");
  if (galpha.p) a.need(galpha, cols, "galpha");
  if (act == ACT_PRELU) {
    a.need(z, n, "z");
    a.need(alpha, cols, "alpha");
  }
  if (act == ACT_RELU || act == ACT_SIGMOID || act == ACT_TANH) a.need(y, n, "y");
  if (!a.ok()) return a.done();
  activation_backward_ex(z.p, y.p, gy.p, rows, cols, act, alpha.p, gz.p, galpha.p, gbias.p);
  return a.done();
}

MM_HOT static void group_sums(const float* x, int64_t rows, int64_t cols, const int32_t* off, int64_t groups, float* out) {
#pragma omp parallel for schedule(dynamic, 16) if (par(rows * cols))
  for (int64_t g = 0; g < groups; g++) {
    float* __restrict o = out + g * cols;
    std::fill(o, o + cols, 0.f);
    for (int64_t r = off[g]; r < off[g + 1]; r++) {
      const float* __restrict xr = x + r * cols;
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) o[c] += xr[c];
    }
  }
}

// groupSums(x [rows,cols], rows, cols, offsets, groups, out [groups,cols]): out[g] = sum of the
// rows of group g (overwrites).
static Napi::Value groupSums(const Napi::CallbackInfo& info) {
  Args a(info, "groupSums");
  F32 x = a.f32("x");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  I32 off = a.i32("offsets");
  const int64_t groups = a.size("groups", "group count");
  F32 out = a.f32("out");
  a.need(x, rows * cols, "x");
  if (a.ok()) check_offsets(a, off, groups, rows);
  a.need(out, groups * cols, "out");
  if (!a.ok()) return a.done();
  group_sums(x.p, rows, cols, off.p, groups, out.p);
  return a.done();
}

// dinScores(h [n,H], H, wOut [H], bOut, keys [B*L,D], B, L, D, offsets, pairs, softmax,
// weights [B*L], pooled [B,D]): score_p = h_p . wOut + bOut; weights = the scores (or their
// softmax over each sample's pairs), 0 at masked pairs; pooled[b] = sum_p weight_p k_p.
MM_HOT static void din_scores(const float* h, int64_t H, const float* w, float bOut, const float* keys, int64_t B, int64_t L, int64_t D,
                              const int32_t* off, const int32_t* pairs, bool soft, float* weights, float* pooled) {
#pragma omp parallel for schedule(dynamic, 16) if (par((int64_t)off[B] * (H + D)))
  for (int64_t b = 0; b < B; b++) {
    float* __restrict wb = weights + b * L;
    float* __restrict pb = pooled + b * D;
    std::fill(wb, wb + L, 0.f);
    std::fill(pb, pb + D, 0.f);
    const int64_t p0 = off[b], p1 = off[b + 1];
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t p = p0; p < p1; p++) {
      const float* __restrict hp = h + p * H;
      float s = bOut;
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < H; c++) s += hp[c] * w[c];
      wb[pairs[p] - b * L] = s;
      mx = std::max(mx, s);
    }
    if (soft && p1 > p0) {
      double sum = 0;
      for (int64_t p = p0; p < p1; p++) {
        float& v = wb[pairs[p] - b * L];
        v = std::exp(v - mx);
        sum += v;
      }
      const float inv = (float)(1.0 / sum);
      for (int64_t p = p0; p < p1; p++) wb[pairs[p] - b * L] *= inv;
    }
    for (int64_t p = p0; p < p1; p++) {
      const float wp = wb[pairs[p] - b * L];
      const float* __restrict k = keys + (int64_t)pairs[p] * D;
#pragma omp simd
      for (int64_t c = 0; c < D; c++) pb[c] += wp * k[c];
    }
  }
}

static Napi::Value dinScores(const Napi::CallbackInfo& info) {
  Args a(info, "dinScores");
  F32 h = a.f32("h");
  const int64_t H = a.size("H");
  F32 w = a.f32("wOut");
  const float bOut = (float)a.number("bOut");
  F32 keys = a.f32("keys");
  const int64_t B = a.size("B"), L = a.size("L"), D = a.size("D");
  I32 off, pairs;
  read_pairs(a, off, pairs, B, L);
  const bool soft = a.flag("softmax");
  F32 weights = a.f32("weights"), pooled = a.f32("pooled");
  a.need(w, H, "wOut");
  a.need(keys, B * L * D, "keys");
  if (a.ok()) a.need(h, (int64_t)off.p[B] * H, "h");
  a.need(weights, B * L, "weights");
  a.need(pooled, B * D, "pooled");
  if (!a.ok()) return a.done();
  din_scores(h.p, H, w.p, bOut, keys.p, B, L, D, off.p, pairs.p, soft, weights.p, pooled.p);
  return a.done();
}

// The activation of one unit, Dice in its inference form (running statistics:
// p = sigmoid((x - mean) * rstd)); one instantiation per activation so row loops vectorise.
template <int ACT, bool DICE>
__attribute__((always_inline)) static inline float shared_act(float x, float alpha, float mean, float rstd) {
  if (DICE) return x * (alpha + fsigmoid((x - mean) * rstd) * (1.f - alpha));
  return act_apply(ACT, x, alpha);
}

// One activated layer of the shared-keys attention below, in place on the block's B x lc pair
// rows of `cols`: x = z + qt[b] + kt[j] on the first layer (the candidate's and the behaviour's
// terms, the bias folded into kt), x = z + bias on later ones, then the activation.
template <int ACT, bool DICE>
__attribute__((always_inline)) static inline void shared_rows(float* __restrict z, int64_t B, int64_t lc, int64_t cols,
                                                              const float* __restrict bias, const float* __restrict qt,
                                                              const float* __restrict kt, const float* __restrict alpha,
                                                              const float* __restrict mean, const float* __restrict rstd) {
  float a[512], mu[512], rs[512];
  for (int64_t c = 0; c < cols; c++) {
    a[c] = alpha ? alpha[c] : 0.f;
    mu[c] = mean ? mean[c] : 0.f;
    rs[c] = rstd ? rstd[c] : 0.f;
  }
  if (qt) {
    for (int64_t b = 0; b < B; b++) {
      const float* __restrict qb = qt + b * cols;
      for (int64_t j = 0; j < lc; j++) {
        float* __restrict zr = z + (b * lc + j) * cols;
        const float* __restrict kj = kt + j * cols;
#pragma omp simd
        for (int64_t c = 0; c < cols; c++) zr[c] = shared_act<ACT, DICE>(zr[c] + qb[c] + kj[c], a[c], mu[c], rs[c]);
      }
    }
    return;
  }
  for (int64_t r = 0; r < B * lc; r++) {
    float* __restrict zr = z + r * cols;
#pragma omp simd
    for (int64_t c = 0; c < cols; c++) zr[c] = shared_act<ACT, DICE>(zr[c] + bias[c], a[c], mu[c], rs[c]);
  }
}

MM_HOT static void shared_layer_activate(float* z, int64_t B, int64_t lc, int64_t cols, const float* bias, const float* qt,
                                         const float* kt, int act, bool dice, const float* alpha, const float* mean, const float* rstd) {
  if (dice) return shared_rows<ACT_NONE, true>(z, B, lc, cols, bias, qt, kt, alpha, mean, rstd);
  switch (act) {
    case ACT_RELU: return shared_rows<ACT_RELU, false>(z, B, lc, cols, bias, qt, kt, alpha, mean, rstd);
    case ACT_SIGMOID: return shared_rows<ACT_SIGMOID, false>(z, B, lc, cols, bias, qt, kt, alpha, mean, rstd);
    case ACT_TANH: return shared_rows<ACT_TANH, false>(z, B, lc, cols, bias, qt, kt, alpha, mean, rstd);
    case ACT_PRELU: return shared_rows<ACT_PRELU, false>(z, B, lc, cols, bias, qt, kt, alpha, mean, rstd);
    default: return shared_rows<ACT_NONE, false>(z, B, lc, cols, bias, qt, kt, alpha, mean, rstd);
  }
}

// dinAttentionShared(q [B,D], keys [m,D], B, m, D, wa [D,H1], wk [D,H1], wp [D,H1], widths [n],
// biases, weights (layers 2..n, row-major, one after another), act, dice, alphas|null,
// means|null, rstds|null, wOut [H_n], bOut, softmax, scores [B,m], pooled [B,D]).
// Inference of DIN target attention when every candidate has the same m valid behaviours (a
// ranking request). The first layer is split as in dinAttention: q (Wq + Wd) = wa per candidate,
// k (Wk - Wd) = wk per behaviour, and (q * k) Wp, which for a block of behaviours j is one GEMM
// q [B, D] x T [D, lc H1] with T[d, (j, h)] = k_j[d] Wp[d, h]. Blocks of behaviours run in
// parallel; each block's pair activations (B x lc rows) stay in cache through every layer and
// the scores, instead of B x m rows streamed through memory layer by layer. pooled = the
// weights (raw scores, or their softmax over the m behaviours) times the keys.
MM_HOT static void din_attention_shared(const float* q, const float* keys, int64_t B, int64_t m, int64_t D, const float* wa,
                                        const float* wk, const float* wp, const int32_t* widths, int64_t layers,
                                        const float* biases, const float* weights, int act, bool dice, const float* alphas,
                                        const float* means, const float* rstds, const float* wOut, float bOut, bool soft,
                                        float* scores, float* pooled) {
  const int64_t H1 = widths[0];
  int64_t Hmax = 0;
  for (int64_t i = 0; i < layers; i++) Hmax = std::max<int64_t>(Hmax, widths[i]);
  // Per-thread buffers kept across calls: a ranking service calls this per request, and fresh
  // blocks of this size would be mapped and faulted in every time (the service returns freed
  // memory to the OS).
  static thread_local std::vector<float> qTerm, kTerm;
  qTerm.resize(B * H1);
  kTerm.resize(m * H1);
  // The caller's buffers, by pointer: inside the parallel region the names are each thread's own.
  float* const qt = qTerm.data();
  float* const kt = kTerm.data();
  sgemm(false, false, (int)B, (int)H1, (int)D, 1.f, q, (int)D, wa, (int)H1, 0.f, qt, (int)H1);
  for (int64_t j = 0; j < m; j++) std::copy(biases, biases + H1, kt + j * H1);
  sgemm(false, false, (int)m, (int)H1, (int)D, 1.f, keys, (int)D, wk, (int)H1, 1.f, kt, (int)H1);
  // A block's pair rows (B x lc x Hmax floats, twice) sized to stay in a core's L2, and at
  // least two blocks per thread to balance.
  const int64_t perThread = (m + 2 * threads() - 1) / (2 * threads());
  const int64_t lc = std::max<int64_t>(1, std::min<int64_t>(perThread, (int64_t)65536 / std::max<int64_t>(1, B * Hmax)));
  const int64_t blocks = (m + lc - 1) / lc;
#pragma omp parallel if (par(B * m * D * H1))
  {
    static thread_local std::vector<float> T, za, zb;
    T.resize(D * lc * H1);
    za.resize(B * lc * Hmax);
    zb.resize(B * lc * Hmax);
#pragma omp for schedule(dynamic, 1)
    for (int64_t blk = 0; blk < blocks; blk++) {
      const int64_t l0 = blk * lc, n = std::min(lc, m - l0);
      for (int64_t d = 0; d < D; d++)
        for (int64_t j = 0; j < n; j++) {
          const float k = keys[(l0 + j) * D + d];
          float* __restrict t = T.data() + d * n * H1 + j * H1;
          const float* __restrict w = wp + d * H1;
#pragma omp simd
          for (int64_t h = 0; h < H1; h++) t[h] = k * w[h];
        }
      float* x = za.data();
      float* y = zb.data();
      sgemm(false, false, (int)B, (int)(n * H1), (int)D, 1.f, q, (int)D, T.data(), (int)(n * H1), 0.f, x, (int)(n * H1));
      const float* bias = biases;
      const float* weight = weights;
      int64_t stat = 0;
      for (int64_t i = 0; i < layers; i++) {
        const int64_t width = widths[i];
        if (i > 0) {
          sgemm(false, false, (int)(B * n), (int)width, (int)widths[i - 1], 1.f, x, (int)widths[i - 1], weight, (int)width, 0.f, y, (int)width);
          weight += widths[i - 1] * width;
          std::swap(x, y);
        }
        shared_layer_activate(x, B, n, width, bias, i == 0 ? qt : nullptr, i == 0 ? kt + l0 * H1 : nullptr, act, dice,
                              alphas ? alphas + stat : nullptr, means ? means + stat : nullptr, rstds ? rstds + stat : nullptr);
        bias += width;
        stat += width;
      }
      const int64_t H = widths[layers - 1];
      for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < n; j++) {
          const float* __restrict hp = x + (b * n + j) * H;
          float s = bOut;
#pragma omp simd reduction(+ : s)
          for (int64_t c = 0; c < H; c++) s += hp[c] * wOut[c];
          scores[b * m + l0 + j] = s;
        }
    }
  }
  if (soft)
    for (int64_t b = 0; b < B; b++) {
      float* s = scores + b * m;
      const float mx = *std::max_element(s, s + m);
      double sum = 0;
      for (int64_t j = 0; j < m; j++) sum += (s[j] = std::exp(s[j] - mx));
      const float inv = (float)(1.0 / sum);
      for (int64_t j = 0; j < m; j++) s[j] *= inv;
    }
  sgemm(false, false, (int)B, (int)D, (int)m, 1.f, scores, (int)m, keys, (int)D, 0.f, pooled, (int)D);
}

static Napi::Value dinAttentionShared(const Napi::CallbackInfo& info) {
  Args a(info, "dinAttentionShared");
  F32 q = a.f32("q"), keys = a.f32("keys");
  const int64_t B = a.positive("B"), m = a.positive("m"), D = a.positive("D");
  F32 wa = a.f32("wa"), wk = a.f32("wk"), wp = a.f32("wp");
  I32 widths = a.i32("widths");
  F32 biases = a.f32("biases"), weights = a.f32("weights");
  const int act = a.code("activation", ACT_PRELU + 1);
  const bool dice = a.flag("dice");
  F32 alphas = a.f32_or_null("alphas"), means = a.f32_or_null("means"), rstds = a.f32_or_null("rstds");
  F32 wOut = a.f32("wOut");
  const float bOut = (float)a.number("bOut");
  const bool soft = a.flag("softmax");
  F32 scores = a.f32("scores"), pooled = a.f32("pooled");
  if (!a.ok()) return a.done();
  const int64_t layers = (int64_t)widths.n;
  if (layers < 1) { a.range_error("widths needs at least one layer"); return a.done(); }
  int64_t total = 0, inner = 0;
  for (int64_t i = 0; i < layers; i++) {
    if (widths.p[i] < 1 || widths.p[i] > 512) { a.range_error("widths must be in [1, 512]"); return a.done(); }
    total += widths.p[i];
    if (i > 0) inner += (int64_t)widths.p[i - 1] * widths.p[i];
  }
  const int64_t H1 = widths.p[0];
  a.need(q, B * D, "q");
  a.need(keys, m * D, "keys");
  a.need(wa, D * H1, "wa");
  a.need(wk, D * H1, "wk");
  a.need(wp, D * H1, "wp");
  a.need(biases, total, "biases");
  a.need(weights, inner, "weights");
  if (alphas.p) a.need(alphas, total, "alphas");
  if (dice && (!alphas.p || !means.p || !rstds.p)) { a.type_error("dice needs alphas, means and rstds"); return a.done(); }
  if (means.p) a.need(means, total, "means");
  if (rstds.p) a.need(rstds, total, "rstds");
  if (act == ACT_PRELU && !alphas.p) { a.type_error("prelu needs alphas"); return a.done(); }
  a.need(wOut, widths.p[layers - 1], "wOut");
  a.need(scores, B * m, "scores");
  a.need(pooled, B * D, "pooled");
  if (!a.ok()) return a.done();
  din_attention_shared(q.p, keys.p, B, m, D, wa.p, wk.p, wp.p, widths.p, layers, biases.p, weights.p, act, dice, alphas.p, means.p,
                       rstds.p, wOut.p, bOut, soft, scores.p, pooled.p);
  return a.done();
}

// dinScoresBackward(h, H, wOut, weights, keys, B, L, D, offsets, pairs, softmax,
// gWeights|null, gPooled|null, gKeys|null, gh [n,H], gwOut|null, gbOut|null): from the
// gradients of weights and pooled to the gradient of the last hidden layer (gh, overwritten),
// of the output layer (accumulated) and of the keys through the pooling (accumulated).
MM_HOT static void din_scores_backward(const float* h, int64_t H, const float* w, const float* weights, const float* keys, int64_t B,
                                       int64_t D, const int32_t* off, const int32_t* pairs, bool soft, const float* gW, const float* gP,
                                       float* gK, float* gh, float* gw, float* gb) {
  const int64_t n = off[B];
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
      const int64_t p0 = off[b], p1 = off[b + 1];
      gs.resize(p1 - p0);
      const float* __restrict gpb = gP ? gP + b * D : nullptr;
      double dot = 0;
      for (int64_t p = p0; p < p1; p++) {
        const int64_t row = pairs[p];
        const float wp = weights[row];
        float g = gW ? gW[row] : 0.f;
        if (gpb) {
          const float* __restrict k = keys + row * D;
          float s = 0.f;
#pragma omp simd reduction(+ : s)
          for (int64_t c = 0; c < D; c++) s += gpb[c] * k[c];
          g += s;
          if (gK) {
            float* __restrict o = gK + row * D;
#pragma omp simd
            for (int64_t c = 0; c < D; c++) o[c] += wp * gpb[c];
          }
        }
        gs[p - p0] = g;
        dot += (double)g * wp;
      }
      for (int64_t p = p0; p < p1; p++) {
        float g = gs[p - p0];
        if (soft) g = weights[pairs[p]] * (g - (float)dot);
        const float* __restrict hp = h + p * H;
        float* __restrict o = gh + p * H;
#pragma omp simd
        for (int64_t c = 0; c < H; c++) {
          o[c] = g * w[c];
          acc[c] += g * hp[c];
        }
        acc[H] += g;
      }
    }
  }
  for (int t = 0; t < T; t++) {
    const float* a = part.data() + (size_t)t * (H + 1);
    if (gw) for (int64_t c = 0; c < H; c++) gw[c] += a[c];
    if (gb) gb[0] += a[H];
  }
}

static Napi::Value dinScoresBackward(const Napi::CallbackInfo& info) {
  Args a(info, "dinScoresBackward");
  F32 h = a.f32("h");
  const int64_t H = a.size("H");
  F32 w = a.f32("wOut"), weights = a.f32("weights"), keys = a.f32("keys");
  const int64_t B = a.size("B"), L = a.size("L"), D = a.size("D");
  I32 off, pairs;
  read_pairs(a, off, pairs, B, L);
  const bool soft = a.flag("softmax");
  F32 gW = a.f32_or_null("gWeights"), gP = a.f32_or_null("gPooled"), gK = a.f32_or_null("gKeys"), gh = a.f32("gh");
  F32 gw = a.f32_or_null("gwOut"), gb = a.f32_or_null("gbOut");
  a.need(w, H, "wOut");
  a.need(weights, B * L, "weights");
  a.need(keys, B * L * D, "keys");
  const int64_t n = a.ok() ? off.p[B] : 0;
  a.need(h, n * H, "h");
  a.need(gh, n * H, "gh");
  if (gW.p) a.need(gW, B * L, "gWeights");
  if (gP.p) a.need(gP, B * D, "gPooled");
  if (gK.p) a.need(gK, B * L * D, "gKeys");
  if (gw.p) a.need(gw, H, "gwOut");
  if (gb.p) a.need(gb, 1, "gbOut");
  if (!a.ok()) return a.done();
  din_scores_backward(h.p, H, w.p, weights.p, keys.p, B, D, off.p, pairs.p, soft, gW.p, gP.p, gK.p, gh.p, gw.p, gb.p);
  return a.done();
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
MM_HOT static double symmetric_info_nce(const float* z1, const float* z2, int64_t N, int64_t d, const float* qu, int64_t Q, float invTau,
                                        float* g, float* g2) {
  const int64_t W = N + Q;
  sgemm(false, true, (int)N, (int)N, (int)d, invTau, z1, (int)d, z2, (int)d, 0.f, g, (int)W);
  if (Q > 0) {
    sgemm(false, true, (int)N, (int)Q, (int)d, invTau, z1, (int)d, qu, (int)d, 0.f, g + N, (int)W);
    sgemm(false, true, (int)N, (int)Q, (int)d, invTau, z2, (int)d, qu, (int)d, 0.f, g2, (int)Q);
  }
  std::vector<float> diag(N), rmax(N), lseR(N), lseC(N);
  for (int64_t i = 0; i < N; i++) diag[i] = g[i * W + i];
  const bool parallel = par(N * W * 4);
  const int T = parallel ? threads() : 1;
  // Row maxima (over S and R1) and the row sums of e = exp(S - r), kept in g.
  float M = -std::numeric_limits<float>::infinity();
#pragma omp parallel for schedule(static) reduction(max : M) num_threads(T)
  for (int64_t i = 0; i < N; i++) {
    float* row = g + i * W;
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
      float* __restrict row = g + i * W;
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
    sgemm(false, true, (int)N, (int)N, (int)d, invTau, z1, (int)d, z2, (int)d, 0.f, g, (int)W);
    if (Q > 0) sgemm(false, true, (int)N, (int)Q, (int)d, invTau, z1, (int)d, qu, (int)d, 0.f, g + N, (int)W);
    std::vector<float> cmax(N, -std::numeric_limits<float>::infinity());
    std::vector<double> csum(N, 0.0);
    for (int64_t i = 0; i < N; i++)
      for (int64_t j = 0; j < N; j++) cmax[j] = std::max(cmax[j], g[i * W + j]);
    for (int64_t i = 0; i < N; i++)
      for (int64_t j = 0; j < N; j++) csum[j] += std::exp((double)g[i * W + j] - cmax[j]);
    for (int64_t j = 0; j < N; j++) lseC[j] = cmax[j] + (float)std::log(csum[j]);
  }
  if (Q > 0) {
    // R2 row j joins column j's normaliser: lseC_j = log(exp(lseC_j) + sum_k exp(R2_jk)).
#pragma omp parallel for schedule(static) num_threads(T)
    for (int64_t j = 0; j < N; j++) {
      float* row = g2 + j * Q;
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
    float* __restrict row = g + i * W;
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
      float* row = g2 + j * Q;
      for (int64_t k = 0; k < Q; k++) row[k] = fexp(row[k] - lseC[j]) * h;
    }
  }
  return loss;
}

static Napi::Value symmetricInfoNCE(const Napi::CallbackInfo& info) {
  Args a(info, "symmetricInfoNCE");
  F32 z1 = a.f32("z1"), z2 = a.f32("z2");
  const int64_t N = a.positive("N"), d = a.positive("d");
  F32 qu = a.f32_or_null("queue");
  const int64_t queued = a.size("Q"), Q = qu.p ? queued : 0;
  const float invTau = (float)a.number("invTau");
  F32 g = a.f32("g"), g2 = a.f32_or_null("g2");
  a.need(z1, N * d, "z1");
  a.need(z2, N * d, "z2");
  a.need(g, N * (N + Q), "g");
  if (Q > 0) {
    a.need(qu, Q * d, "queue");
    if (a.ok() && !g2.p) a.type_error("g2 must be a Float32Array when there is a queue");
    a.need(g2, N * Q, "g2");
  }
  if (!a.ok()) return a.done();
  return Napi::Number::New(a.env(), symmetric_info_nce(z1.p, z2.p, N, d, qu.p, Q, invTau, g.p, g2.p));
}

void init_fused(Napi::Env env, Napi::Object exports) {
  MM_EXPORT(dinCompact);
  MM_EXPORT(dinPairs);
  MM_EXPORT(dinPairsBackward);
  MM_EXPORT(biasActivationEx);
  MM_EXPORT(activationBackwardEx);
  MM_EXPORT(groupSums);
  MM_EXPORT(dinScores);
  MM_EXPORT(dinAttentionShared);
  MM_EXPORT(dinScoresBackward);
  MM_EXPORT(symmetricInfoNCE);
}

}  // namespace mm
