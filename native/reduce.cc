// Reductions and row-wise normalisations: axis sums, masked softmax / log-softmax, layer norm,
// L2 normalisation, and the two losses (BCE with logits, softmax cross-entropy), each with its
// backward. Row kernels parallelise over rows.
#include "common.h"
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace mm {

// sumAxis(x, outer, n, inner, out, accumulate): out[o, i] (+)= sum_k x[o, k, i].
MM_HOT static void sum_axis(const float* x, int64_t outer, int64_t n, int64_t inner, float* out, bool acc) {
  if (outer == 1 && inner > 1) {
    // Summing rows of one matrix: split the rows across threads and merge per-thread partials.
    const int T = par(n * inner) ? threads() : 1;
    std::vector<double> part((size_t)T * inner, 0.0);
#pragma omp parallel for schedule(static) num_threads(T)
    for (int t = 0; t < T; t++) {
      double* a = part.data() + (size_t)t * inner;
      for (int64_t k = n * t / T; k < n * (t + 1) / T; k++) {
        const float* p = x + k * inner;
        for (int64_t i = 0; i < inner; i++) a[i] += p[i];
      }
    }
    for (int64_t i = 0; i < inner; i++) {
      double s = 0;
      for (int t = 0; t < T; t++) s += part[(size_t)t * inner + i];
      out[i] = (float)(acc ? out[i] + s : s);
    }
    return;
  }
#pragma omp parallel for schedule(static) if (par(outer * n * inner))
  for (int64_t o = 0; o < outer; o++) {
    float* po = out + o * inner;
    if (inner == 1) {
      double s = 0;
      const float* p = x + o * n;
      for (int64_t k = 0; k < n; k++) s += p[k];
      po[0] = (float)(acc ? po[0] + s : s);
      continue;
    }
    if (!acc) std::fill(po, po + inner, 0.f);
    for (int64_t k = 0; k < n; k++) {
      const float* p = x + (o * n + k) * inner;
      for (int64_t i = 0; i < inner; i++) po[i] += p[i];
    }
  }
}

static Napi::Value sumAxis(const Napi::CallbackInfo& info) {
  Args a(info, "sumAxis");
  F32 x = a.f32("x");
  const int64_t outer = a.size("outer"), n = a.size("n"), inner = a.size("inner");
  F32 out = a.f32("out");
  const bool acc = a.flag("accumulate");
  a.need(x, outer * n * inner, "x");
  a.need(out, outer * inner, "out");
  if (!a.ok()) return a.done();
  sum_axis(x.p, outer, n, inner, out.p, acc);
  return a.done();
}

// expandAxis(g, outer, n, inner, gx, scale): gx[o, k, i] += scale * g[o, i].
MM_HOT static void expand_axis(const float* g, int64_t outer, int64_t n, int64_t inner, float* gx, float scale) {
#pragma omp parallel for schedule(static) if (par(outer * n * inner))
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < n; k++) {
      float* p = gx + (o * n + k) * inner;
      const float* q = g + o * inner;
      for (int64_t i = 0; i < inner; i++) p[i] += scale * q[i];
    }
}

static Napi::Value expandAxis(const Napi::CallbackInfo& info) {
  Args a(info, "expandAxis");
  F32 g = a.f32("g");
  const int64_t outer = a.size("outer"), n = a.size("n"), inner = a.size("inner");
  F32 gx = a.f32("gx");
  const float scale = (float)a.number("scale");
  a.need(g, outer * inner, "g");
  a.need(gx, outer * n * inner, "gx");
  if (!a.ok()) return a.done();
  expand_axis(g.p, outer, n, inner, gx.p, scale);
  return a.done();
}

// softmax(x, rows, cols, mask|null, y, log): row softmax (or log-softmax) over the entries
// whose mask is non-zero; masked entries get 0, an all-masked row is all 0.
MM_HOT static void softmax_rows(const float* x, int64_t rows, int64_t cols, const float* m, float* y, bool lg) {
#pragma omp parallel for schedule(static) if (par(rows * cols * 8))
  for (int64_t r = 0; r < rows; r++) {
    const float* px = x + r * cols;
    const float* pm = m ? m + r * cols : nullptr;
    float* py = y + r * cols;
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
}

static Napi::Value softmax(const Napi::CallbackInfo& info) {
  Args a(info, "softmax");
  F32 x = a.f32("x");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F32 m = a.f32_or_null("mask"), y = a.f32("y");
  const bool lg = a.flag("log");
  a.need(x, rows * cols, "x");
  a.need(y, rows * cols, "y");
  if (m.p) a.need(m, rows * cols, "mask");
  if (!a.ok()) return a.done();
  softmax_rows(x.p, rows, cols, m.p, y.p, lg);
  return a.done();
}

// softmaxBackward(y, gy, rows, cols, mask|null, gx, log): gx += dL/dx given the forward output.
MM_HOT static void softmax_backward(const float* y, const float* gy, int64_t rows, int64_t cols, const float* m, float* gx, bool lg) {
#pragma omp parallel for schedule(static) if (par(rows * cols * 4))
  for (int64_t r = 0; r < rows; r++) {
    const float* py = y + r * cols;
    const float* pg = gy + r * cols;
    const float* pm = m ? m + r * cols : nullptr;
    float* po = gx + r * cols;
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
}

static Napi::Value softmaxBackward(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxBackward");
  F32 y = a.f32("y"), gy = a.f32("gy");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F32 m = a.f32_or_null("mask"), gx = a.f32("gx");
  const bool lg = a.flag("log");
  a.need(y, rows * cols, "y");
  a.need(gy, rows * cols, "gy");
  a.need(gx, rows * cols, "gx");
  if (m.p) a.need(m, rows * cols, "mask");
  if (!a.ok()) return a.done();
  softmax_backward(y.p, gy.p, rows, cols, m.p, gx.p, lg);
  return a.done();
}

// layerNorm(x, rows, cols, gamma|null, beta|null, eps, y, mean, rstd)
MM_HOT static void layer_norm(const float* x, int64_t rows, int64_t cols, const float* g, const float* b, float eps, float* y, float* mu, float* rs) {
#pragma omp parallel for schedule(static) if (par(rows * cols * 4))
  for (int64_t r = 0; r < rows; r++) {
    const float* px = x + r * cols;
    float* py = y + r * cols;
    double s = 0, s2 = 0;
    for (int64_t c = 0; c < cols; c++) s += px[c];
    const double mean = s / cols;
    for (int64_t c = 0; c < cols; c++) { double d = px[c] - mean; s2 += d * d; }
    const float rstd = (float)(1.0 / std::sqrt(s2 / cols + eps));
    mu[r] = (float)mean;
    rs[r] = rstd;
    for (int64_t c = 0; c < cols; c++) {
      float v = (px[c] - (float)mean) * rstd;
      py[c] = v * (g ? g[c] : 1.f) + (b ? b[c] : 0.f);
    }
  }
}

static Napi::Value layerNorm(const Napi::CallbackInfo& info) {
  Args a(info, "layerNorm");
  F32 x = a.f32("x");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F32 g = a.f32_or_null("gamma"), b = a.f32_or_null("beta");
  const float eps = (float)a.number("eps");
  F32 y = a.f32("y"), mu = a.f32("mean"), rs = a.f32("rstd");
  a.need(x, rows * cols, "x");
  a.need(y, rows * cols, "y");
  a.need(mu, rows, "mean");
  a.need(rs, rows, "rstd");
  if (g.p) a.need(g, cols, "gamma");
  if (b.p) a.need(b, cols, "beta");
  if (!a.ok()) return a.done();
  layer_norm(x.p, rows, cols, g.p, b.p, eps, y.p, mu.p, rs.p);
  return a.done();
}

// layerNormBackward(x, rows, cols, gamma|null, mean, rstd, gy, gx|null, ggamma|null, gbeta|null)
MM_HOT static void layer_norm_backward(const float* x, int64_t rows, int64_t cols, const float* g, const float* mu, const float* rs,
                                       const float* gy, float* gx, float* gg, float* gb) {
  if (gx) {
#pragma omp parallel for schedule(static) if (par(rows * cols * 4))
    for (int64_t r = 0; r < rows; r++) {
      const float* px = x + r * cols;
      const float* pg = gy + r * cols;
      float* po = gx + r * cols;
      const float mean = mu[r], rstd = rs[r];
      double sg = 0, sgx = 0;
      for (int64_t c = 0; c < cols; c++) {
        const float gh = pg[c] * (g ? g[c] : 1.f);
        sg += gh;
        sgx += gh * (px[c] - mean) * rstd;
      }
      const float mg = (float)(sg / cols), mgx = (float)(sgx / cols);
      for (int64_t c = 0; c < cols; c++) {
        const float gh = pg[c] * (g ? g[c] : 1.f);
        const float xh = (px[c] - mean) * rstd;
        po[c] += rstd * (gh - mg - xh * mgx);
      }
    }
  }
  if (gg || gb) {
    for (int64_t r = 0; r < rows; r++) {
      const float* px = x + r * cols;
      const float* pg = gy + r * cols;
      for (int64_t c = 0; c < cols; c++) {
        if (gg) gg[c] += pg[c] * (px[c] - mu[r]) * rs[r];
        if (gb) gb[c] += pg[c];
      }
    }
  }
}

static Napi::Value layerNormBackward(const Napi::CallbackInfo& info) {
  Args a(info, "layerNormBackward");
  F32 x = a.f32("x");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F32 g = a.f32_or_null("gamma"), mu = a.f32("mean"), rs = a.f32("rstd"), gy = a.f32("gy");
  F32 gx = a.f32_or_null("gx"), gg = a.f32_or_null("ggamma"), gb = a.f32_or_null("gbeta");
  a.need(x, rows * cols, "x");
  a.need(mu, rows, "mean");
  a.need(rs, rows, "rstd");
  a.need(gy, rows * cols, "gy");
  if (g.p) a.need(g, cols, "gamma");
  if (gx.p) a.need(gx, rows * cols, "gx");
  if (gg.p) a.need(gg, cols, "ggamma");
  if (gb.p) a.need(gb, cols, "gbeta");
  if (!a.ok()) return a.done();
  layer_norm_backward(x.p, rows, cols, g.p, mu.p, rs.p, gy.p, gx.p, gg.p, gb.p);
  return a.done();
}

// l2Normalize(x, rows, cols, eps, y, norms): y = x / max(||x||, eps) per row.
MM_HOT static void l2_normalize(const float* x, int64_t rows, int64_t cols, float eps, float* y, float* nr) {
#pragma omp parallel for schedule(static) if (par(rows * cols * 2))
  for (int64_t r = 0; r < rows; r++) {
    const float* px = x + r * cols;
    float* py = y + r * cols;
    double s = 0;
    for (int64_t c = 0; c < cols; c++) s += (double)px[c] * px[c];
    const float n = std::max((float)std::sqrt(s), eps);
    nr[r] = n;
    const float inv = 1.f / n;
    for (int64_t c = 0; c < cols; c++) py[c] = px[c] * inv;
  }
}

static Napi::Value l2Normalize(const Napi::CallbackInfo& info) {
  Args a(info, "l2Normalize");
  F32 x = a.f32("x");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  const float eps = (float)a.number("eps");
  F32 y = a.f32("y"), nr = a.f32("norms");
  a.need(x, rows * cols, "x");
  a.need(y, rows * cols, "y");
  a.need(nr, rows, "norms");
  if (!a.ok()) return a.done();
  l2_normalize(x.p, rows, cols, eps, y.p, nr.p);
  return a.done();
}

// l2NormalizeBackward(y, norms, gy, rows, cols, eps, gx): gx += (gy - y <gy, y>) / norm, or
// gy / eps where the norm was clamped.
MM_HOT static void l2_normalize_backward(const float* y, const float* nr, const float* gy, int64_t rows, int64_t cols, float eps, float* gx) {
#pragma omp parallel for schedule(static) if (par(rows * cols * 2))
  for (int64_t r = 0; r < rows; r++) {
    const float* py = y + r * cols;
    const float* pg = gy + r * cols;
    float* po = gx + r * cols;
    const float inv = 1.f / nr[r];
    if (nr[r] <= eps) { for (int64_t c = 0; c < cols; c++) po[c] += pg[c] * inv; continue; }
    double d = 0;
    for (int64_t c = 0; c < cols; c++) d += (double)pg[c] * py[c];
    for (int64_t c = 0; c < cols; c++) po[c] += (pg[c] - py[c] * (float)d) * inv;
  }
}

static Napi::Value l2NormalizeBackward(const Napi::CallbackInfo& info) {
  Args a(info, "l2NormalizeBackward");
  F32 y = a.f32("y"), nr = a.f32("norms"), gy = a.f32("gy");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  const float eps = (float)a.number("eps");
  F32 gx = a.f32("gx");
  a.need(y, rows * cols, "y");
  a.need(nr, rows, "norms");
  a.need(gy, rows * cols, "gy");
  a.need(gx, rows * cols, "gx");
  if (!a.ok()) return a.done();
  l2_normalize_backward(y.p, nr.p, gy.p, rows, cols, eps, gx.p);
  return a.done();
}

// bceWithLogits(z, labels, n, weights|null, grad|null) -> mean loss; grad = dmean/dz (written).
MM_HOT static double bce_with_logits(const float* z, const float* t, int64_t n, const float* w, float* g) {
  double total = 0;
  const float invN = 1.f / (float)n;
#pragma omp parallel for reduction(+ : total) schedule(static) if (par(n * 16))
  for (int64_t i = 0; i < n; i++) {
    const float x = z[i], y = t[i], wt = w ? w[i] : 1.f;
    // max(x, 0) - x y + log(1 + e^-|x|): stable for large |x|.
    total += wt * (std::max(x, 0.f) - x * y + std::log1p(std::exp(-std::fabs(x))));
    if (g) g[i] = wt * (1.f / (1.f + std::exp(-x)) - y) * invN;
  }
  return total / (double)n;
}

static Napi::Value bceWithLogits(const Napi::CallbackInfo& info) {
  Args a(info, "bceWithLogits");
  F32 z = a.f32("logits"), t = a.f32("labels");
  const int64_t n = a.size("n");
  F32 w = a.f32_or_null("weights"), g = a.f32_or_null("grad");
  a.need(z, n, "logits");
  a.need(t, n, "labels");
  if (w.p) a.need(w, n, "weights");
  if (g.p) a.need(g, n, "grad");
  if (!a.ok()) return a.done();
  return Napi::Number::New(a.env(), bce_with_logits(z.p, t.p, n, w.p, g.p));
}

// softmaxCrossEntropy(logits, rows, cols, targets Int32, grad|null) -> mean loss.
MM_HOT static double softmax_cross_entropy(const float* z, int64_t rows, int64_t cols, const int32_t* t, float* g) {
  double total = 0;
  const float invN = 1.f / (float)rows;
#pragma omp parallel for reduction(+ : total) schedule(static) if (par(rows * cols * 4))
  for (int64_t r = 0; r < rows; r++) {
    const float* p = z + r * cols;
    float mx = p[0];
    for (int64_t c = 1; c < cols; c++) mx = std::max(mx, p[c]);
    double s = 0;
    for (int64_t c = 0; c < cols; c++) s += std::exp(p[c] - mx);
    const float lse = mx + (float)std::log(s);
    total += lse - p[t[r]];
    if (g) {
      float* pg = g + r * cols;
      for (int64_t c = 0; c < cols; c++) pg[c] = std::exp(p[c] - lse) * invN;
      pg[t[r]] -= invN;
    }
  }
  return total / (double)rows;
}

static Napi::Value softmaxCrossEntropy(const Napi::CallbackInfo& info) {
  Args a(info, "softmaxCrossEntropy");
  F32 z = a.f32("logits");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  I32 t = a.i32("targets");
  F32 g = a.f32_or_null("grad");
  a.need(z, rows * cols, "logits");
  a.need(t, rows, "targets");
  if (g.p) a.need(g, rows * cols, "grad");
  for (int64_t r = 0; r < rows && a.ok(); r++)
    if (t.p[r] < 0 || t.p[r] >= cols)
      a.range_error("target " + std::to_string(t.p[r]) + " at row " + std::to_string(r) + " is outside [0, " + std::to_string(cols) + ")");
  if (!a.ok()) return a.done();
  return Napi::Number::New(a.env(), softmax_cross_entropy(z.p, rows, cols, t.p, g.p));
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
