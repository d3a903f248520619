// Reductions and row-wise normalisations: axis sums, masked softmax / log-softmax, layer norm,
// L2 normalisation, and the two losses (BCE with logits, softmax cross-entropy), each with its
// backward. Row kernels parallelise over rows.
#include "common.h"
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace mm {

// sumAxis(x, outer, n, inner, out, accumulate): out[o, i] (+)= sum_k x[o, k, i].
static Napi::Value sumAxis(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, out;
  if (!f32(info, 0, x, "x") || !f32(info, 4, out, "out")) return env.Undefined();
  const int64_t outer = int64(info, 1), n = int64(info, 2), inner = int64(info, 3);
  const bool acc = boolean(info, 5);
  if (!need(env, x.n, outer * n * inner, "x") || !need(env, out.n, outer * inner, "out")) return env.Undefined();
  if (outer == 1 && inner > 1) {
    // Summing rows of one matrix: split the rows across threads and merge per-thread partials.
    const int T = par(n * inner) ? threads() : 1;
    std::vector<double> part((size_t)T * inner, 0.0);
#pragma omp parallel for schedule(static) num_threads(T)
    for (int t = 0; t < T; t++) {
      double* a = part.data() + (size_t)t * inner;
      for (int64_t k = n * t / T; k < n * (t + 1) / T; k++) {
        const float* p = x.p + k * inner;
        for (int64_t i = 0; i < inner; i++) a[i] += p[i];
      }
    }
    for (int64_t i = 0; i < inner; i++) {
      double s = 0;
      for (int t = 0; t < T; t++) s += part[(size_t)t * inner + i];
      out.p[i] = (float)(acc ? out.p[i] + s : s);
    }
    return env.Undefined();
  }
#pragma omp parallel for schedule(static) if (par(outer * n * inner))
  for (int64_t o = 0; o < outer; o++) {
    float* po = out.p + o * inner;
    if (inner == 1) {
      double s = 0;
      const float* p = x.p + o * n;
      for (int64_t k = 0; k < n; k++) s += p[k];
      po[0] = (float)(acc ? po[0] + s : s);
      continue;
    }
    if (!acc) std::fill(po, po + inner, 0.f);
    for (int64_t k = 0; k < n; k++) {
      const float* p = x.p + (o * n + k) * inner;
      for (int64_t i = 0; i < inner; i++) po[i] += p[i];
    }
  }
  return env.Undefined();
}

// expandAxis(g, outer, n, inner, gx, scale): gx[o, k, i] += scale * g[o, i].
static Napi::Value expandAxis(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 g, gx;
  if (!f32(info, 0, g, "g") || !f32(info, 4, gx, "gx")) return env.Undefined();
  const int64_t outer = int64(info, 1), n = int64(info, 2), inner = int64(info, 3);
  const float scale = (float)num(info, 5);
  if (!need(env, g.n, outer * inner, "g") || !need(env, gx.n, outer * n * inner, "gx")) return env.Undefined();
#pragma omp parallel for schedule(static) if (par(outer * n * inner))
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < n; k++) {
      float* p = gx.p + (o * n + k) * inner;
      const float* q = g.p + o * inner;
      for (int64_t i = 0; i < inner; i++) p[i] += scale * q[i];
    }
  return env.Undefined();
}

// softmax(x, rows, cols, mask|null, y, log): row softmax (or log-softmax) over the entries
// whose mask is non-zero; masked entries get 0, an all-masked row is all 0.
static Napi::Value softmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, m, y;
  if (!f32(info, 0, x, "x") || !f32(info, 3, m, "mask", true) || !f32(info, 4, y, "y")) return env.Undefined();
  const int64_t rows = int64(info, 1), cols = int64(info, 2);
  const bool lg = boolean(info, 5);
  if (!need(env, x.n, rows * cols, "x") || !need(env, y.n, rows * cols, "y") || (m.p && !need(env, m.n, rows * cols, "mask")))
    return env.Undefined();
#pragma omp parallel for schedule(static) if (par(rows * cols * 8))
  for (int64_t r = 0; r < rows; r++) {
    const float* px = x.p + r * cols;
    const float* pm = m.p ? m.p + r * cols : nullptr;
    float* py = y.p + r * cols;
    float mx = -std::numeric_limits<float>::infinity();
    for (int64_t c = 0; c < cols; c++)
      if (!pm || pm[c] != 0.f) mx = std::max(mx, px[c]);
    if (mx == -std::numeric_limits<float>::infinity()) { std::fill(py, py + cols, 0.f); continue; }
    double s = 0;
    for (int64_t c = 0; c < cols; c++)
      if (!pm || pm[c] != 0.f) s += std::exp(px[c] - mx);
    if (lg) {
      const float lse = mx + (float)std::log(s);
      for (int64_t c = 0; c < cols; c++) py[c] = (!pm || pm[c] != 0.f) ? px[c] - lse : 0.f;
    } else {
      const float inv = (float)(1.0 / s);
      for (int64_t c = 0; c < cols; c++) py[c] = (!pm || pm[c] != 0.f) ? std::exp(px[c] - mx) * inv : 0.f;
    }
  }
  return env.Undefined();
}

// softmaxBackward(y, gy, rows, cols, mask|null, gx, log): gx += dL/dx given the forward output.
static Napi::Value softmaxBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 y, gy, m, gx;
  if (!f32(info, 0, y, "y") || !f32(info, 1, gy, "gy") || !f32(info, 4, m, "mask", true) || !f32(info, 5, gx, "gx"))
    return env.Undefined();
  const int64_t rows = int64(info, 2), cols = int64(info, 3);
  const bool lg = boolean(info, 6);
  if (!need(env, y.n, rows * cols, "y") || !need(env, gy.n, rows * cols, "gy") || !need(env, gx.n, rows * cols, "gx"))
    return env.Undefined();
#pragma omp parallel for schedule(static) if (par(rows * cols * 4))
  for (int64_t r = 0; r < rows; r++) {
    const float* py = y.p + r * cols;
    const float* pg = gy.p + r * cols;
    const float* pm = m.p ? m.p + r * cols : nullptr;
    float* po = gx.p + r * cols;
    double s = 0;
    bool any = false;
    for (int64_t c = 0; c < cols; c++)
      if (!pm || pm[c] != 0.f) { s += lg ? pg[c] : pg[c] * py[c]; any = true; }
    if (!any) continue;
    for (int64_t c = 0; c < cols; c++) {
      if (pm && pm[c] == 0.f) continue;
      po[c] += lg ? pg[c] - std::exp(py[c]) * (float)s : py[c] * (pg[c] - (float)s);
    }
  }
  return env.Undefined();
}

// layerNorm(x, rows, cols, gamma|null, beta|null, eps, y, mean, rstd)
static Napi::Value layerNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, g, b, y, mu, rs;
  if (!f32(info, 0, x, "x") || !f32(info, 3, g, "gamma", true) || !f32(info, 4, b, "beta", true) ||
      !f32(info, 6, y, "y") || !f32(info, 7, mu, "mean") || !f32(info, 8, rs, "rstd"))
    return env.Undefined();
  const int64_t rows = int64(info, 1), cols = int64(info, 2);
  const float eps = (float)num(info, 5);
  if (!need(env, x.n, rows * cols, "x") || !need(env, y.n, rows * cols, "y") || !need(env, mu.n, rows, "mean") ||
      !need(env, rs.n, rows, "rstd"))
    return env.Undefined();
#pragma omp parallel for schedule(static) if (par(rows * cols * 4))
  for (int64_t r = 0; r < rows; r++) {
    const float* px = x.p + r * cols;
    float* py = y.p + r * cols;
    double s = 0, s2 = 0;
    for (int64_t c = 0; c < cols; c++) s += px[c];
    const double mean = s / cols;
    for (int64_t c = 0; c < cols; c++) { double d = px[c] - mean; s2 += d * d; }
    const float rstd = (float)(1.0 / std::sqrt(s2 / cols + eps));
    mu.p[r] = (float)mean;
    rs.p[r] = rstd;
    for (int64_t c = 0; c < cols; c++) {
      float v = (px[c] - (float)mean) * rstd;
      py[c] = v * (g.p ? g.p[c] : 1.f) + (b.p ? b.p[c] : 0.f);
    }
  }
  return env.Undefined();
}

// layerNormBackward(x, rows, cols, gamma|null, mean, rstd, gy, gx|null, ggamma|null, gbeta|null)
static Napi::Value layerNormBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, g, mu, rs, gy, gx, gg, gb;
  if (!f32(info, 0, x, "x") || !f32(info, 3, g, "gamma", true) || !f32(info, 4, mu, "mean") ||
      !f32(info, 5, rs, "rstd") || !f32(info, 6, gy, "gy") || !f32(info, 7, gx, "gx", true) ||
      !f32(info, 8, gg, "ggamma", true) || !f32(info, 9, gb, "gbeta", true))
    return env.Undefined();
  const int64_t rows = int64(info, 1), cols = int64(info, 2);
  if (gx.p) {
#pragma omp parallel for schedule(static) if (par(rows * cols * 4))
    for (int64_t r = 0; r < rows; r++) {
      const float* px = x.p + r * cols;
      const float* pg = gy.p + r * cols;
      float* po = gx.p + r * cols;
      const float mean = mu.p[r], rstd = rs.p[r];
      double sg = 0, sgx = 0;
      for (int64_t c = 0; c < cols; c++) {
        const float gh = pg[c] * (g.p ? g.p[c] : 1.f);
        sg += gh;
        sgx += gh * (px[c] - mean) * rstd;
      }
      const float mg = (float)(sg / cols), mgx = (float)(sgx / cols);
      for (int64_t c = 0; c < cols; c++) {
        const float gh = pg[c] * (g.p ? g.p[c] : 1.f);
        const float xh = (px[c] - mean) * rstd;
        po[c] += rstd * (gh - mg - xh * mgx);
      }
    }
  }
  if (gg.p || gb.p) {
    for (int64_t r = 0; r < rows; r++) {
      const float* px = x.p + r * cols;
      const float* pg = gy.p + r * cols;
      for (int64_t c = 0; c < cols; c++) {
        if (gg.p) gg.p[c] += pg[c] * (px[c] - mu.p[r]) * rs.p[r];
        if (gb.p) gb.p[c] += pg[c];
      }
    }
  }
  return env.Undefined();
}

// l2Normalize(x, rows, cols, eps, y, norms): y = x / max(||x||, eps) per row.
static Napi::Value l2Normalize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, y, nr;
  if (!f32(info, 0, x, "x") || !f32(info, 4, y, "y") || !f32(info, 5, nr, "norms")) return env.Undefined();
  const int64_t rows = int64(info, 1), cols = int64(info, 2);
  const float eps = (float)num(info, 3);
  if (!need(env, x.n, rows * cols, "x") || !need(env, y.n, rows * cols, "y") || !need(env, nr.n, rows, "norms"))
    return env.Undefined();
#pragma omp parallel for schedule(static) if (par(rows * cols * 2))
  for (int64_t r = 0; r < rows; r++) {
    const float* px = x.p + r * cols;
    float* py = y.p + r * cols;
    double s = 0;
    for (int64_t c = 0; c < cols; c++) s += (double)px[c] * px[c];
    const float n = std::max((float)std::sqrt(s), eps);
    nr.p[r] = n;
    const float inv = 1.f / n;
    for (int64_t c = 0; c < cols; c++) py[c] = px[c] * inv;
  }
  return env.Undefined();
}

// l2NormalizeBackward(y, norms, gy, rows, cols, eps, gx): gx += (gy - y <gy, y>) / norm, or
// gy / eps where the norm was clamped.
static Napi::Value l2NormalizeBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 y, nr, gy, gx;
  if (!f32(info, 0, y, "y") || !f32(info, 1, nr, "norms") || !f32(info, 2, gy, "gy") || !f32(info, 6, gx, "gx"))
    return env.Undefined();
  const int64_t rows = int64(info, 3), cols = int64(info, 4);
  const float eps = (float)num(info, 5);
#pragma omp parallel for schedule(static) if (par(rows * cols * 2))
  for (int64_t r = 0; r < rows; r++) {
    const float* py = y.p + r * cols;
    const float* pg = gy.p + r * cols;
    float* po = gx.p + r * cols;
    const float inv = 1.f / nr.p[r];
    if (nr.p[r] <= eps) { for (int64_t c = 0; c < cols; c++) po[c] += pg[c] * inv; continue; }
    double d = 0;
    for (int64_t c = 0; c < cols; c++) d += (double)pg[c] * py[c];
    for (int64_t c = 0; c < cols; c++) po[c] += (pg[c] - py[c] * (float)d) * inv;
  }
  return env.Undefined();
}

// bceWithLogits(z, labels, n, weights|null, grad|null) -> mean loss; grad = dmean/dz (written).
static Napi::Value bceWithLogits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 z, t, w, g;
  if (!f32(info, 0, z, "logits") || !f32(info, 1, t, "labels") || !f32(info, 3, w, "weights", true) ||
      !f32(info, 4, g, "grad", true))
    return env.Undefined();
  const int64_t n = int64(info, 2);
  if (!need(env, z.n, n, "logits") || !need(env, t.n, n, "labels")) return env.Undefined();
  double total = 0;
  const float invN = 1.f / (float)n;
#pragma omp parallel for reduction(+ : total) schedule(static) if (par(n * 16))
  for (int64_t i = 0; i < n; i++) {
    const float x = z.p[i], y = t.p[i], wt = w.p ? w.p[i] : 1.f;
    // max(x, 0) - x y + log(1 + e^-|x|): stable for large |x|.
    total += wt * (std::max(x, 0.f) - x * y + std::log1p(std::exp(-std::fabs(x))));
    if (g.p) g.p[i] = wt * (1.f / (1.f + std::exp(-x)) - y) * invN;
  }
  return Napi::Number::New(env, total / (double)n);
}

// softmaxCrossEntropy(logits, rows, cols, targets Int32, grad|null) -> mean loss.
static Napi::Value softmaxCrossEntropy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 z, g;
  I32 t;
  if (!f32(info, 0, z, "logits") || !i32(info, 3, t, "targets") || !f32(info, 4, g, "grad", true))
    return env.Undefined();
  const int64_t rows = int64(info, 1), cols = int64(info, 2);
  if (!need(env, z.n, rows * cols, "logits") || !need(env, t.n, rows, "targets")) return env.Undefined();
  for (int64_t r = 0; r < rows; r++)
    if (t.p[r] < 0 || t.p[r] >= cols) {
      std::string msg = "mmctr native: target " + std::to_string(t.p[r]) + " at row " + std::to_string(r) +
                        " is outside [0, " + std::to_string(cols) + ")";
      Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
      return env.Undefined();
    }
  double total = 0;
  const float invN = 1.f / (float)rows;
#pragma omp parallel for reduction(+ : total) schedule(static) if (par(rows * cols * 4))
  for (int64_t r = 0; r < rows; r++) {
    const float* p = z.p + r * cols;
    float mx = p[0];
    for (int64_t c = 1; c < cols; c++) mx = std::max(mx, p[c]);
    double s = 0;
    for (int64_t c = 0; c < cols; c++) s += std::exp(p[c] - mx);
    const float lse = mx + (float)std::log(s);
    total += lse - p[t.p[r]];
    if (g.p) {
      float* pg = g.p + r * cols;
      for (int64_t c = 0; c < cols; c++) pg[c] = std::exp(p[c] - lse) * invN;
      pg[t.p[r]] -= invN;
    }
  }
  return Napi::Number::New(env, total / (double)rows);
}

void init_reduce(Napi::Env env, Napi::Object exports) {
  MM_EXPORT(sumAxis);
  MM_EXPORT(expandAxis);
  MM_EXPORT(softmax);
  MM_EXPORT(softmaxBackward);
  MM_EXPORT(layerNorm);
  MM_EXPORT(layerNormBackward);
  MM_EXPORT(l2Normalize);
  MM_EXPORT(l2NormalizeBackward);
  MM_EXPORT(bceWithLogits);
  MM_EXPORT(softmaxCrossEntropy);
}

}  // namespace mm
