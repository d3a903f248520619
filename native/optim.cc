// Optimiser updates, dense and row-sparse. Sparse updates touch only the rows a batch used
// (lazy Adam / Adagrad), and L2 applies to those rows only, never to the whole table.
#include "common.h"
#include <cmath>

namespace mm {

// adam(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, decoupled, step)
// decoupled: AdamW (param -= lr * wd * param); otherwise wd is added to the gradient (L2).
static Napi::Value adam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 p, g, m, v;
  if (!f32(info, 0, p, "param") || !f32(info, 1, g, "grad") || !f32(info, 2, m, "m") || !f32(info, 3, v, "v"))
    return env.Undefined();
  const int64_t n = (int64_t)p.n;
  if (!need(env, g.n, n, "grad") || !need(env, m.n, n, "m") || !need(env, v.n, n, "v")) return env.Undefined();
  const float lr = (float)num(info, 4), b1 = (float)num(info, 5), b2 = (float)num(info, 6), eps = (float)num(info, 7);
  const float wd = (float)num(info, 8);
  const bool decoupled = boolean(info, 9);
  const double step = num(info, 10);
  const float c1 = (float)(1.0 / (1.0 - std::pow((double)b1, step)));
  const float c2 = (float)(1.0 / (1.0 - std::pow((double)b2, step)));
#pragma omp parallel for simd schedule(static) if (par(n * 4))
  for (int64_t i = 0; i < n; i++) {
    float gi = g.p[i];
    if (!decoupled && wd != 0.f) gi += wd * p.p[i];
    m.p[i] = b1 * m.p[i] + (1.f - b1) * gi;
    v.p[i] = b2 * v.p[i] + (1.f - b2) * gi * gi;
    float upd = (m.p[i] * c1) / (std::sqrt(v.p[i] * c2) + eps);
    if (decoupled && wd != 0.f) upd += wd * p.p[i];
    p.p[i] -= lr * upd;
  }
  return env.Undefined();
}

// sgd(param, grad, momentumBuf|null, lr, momentum, weightDecay)
static Napi::Value sgd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 p, g, b;
  if (!f32(info, 0, p, "param") || !f32(info, 1, g, "grad") || !f32(info, 2, b, "momentumBuf", true))
    return env.Undefined();
  const int64_t n = (int64_t)p.n;
  if (!need(env, g.n, n, "grad") || (b.p && !need(env, b.n, n, "momentumBuf"))) return env.Undefined();
  const float lr = (float)num(info, 3), mu = (float)num(info, 4), wd = (float)num(info, 5);
#pragma omp parallel for simd schedule(static) if (par(n * 2))
  for (int64_t i = 0; i < n; i++) {
    float gi = g.p[i] + wd * p.p[i];
    if (b.p) { b.p[i] = mu * b.p[i] + gi; gi = b.p[i]; }
    p.p[i] -= lr * gi;
  }
  return env.Undefined();
}

static bool check_rows(Napi::Env env, const I32& rows, int64_t tableSize, int64_t dim) {
  if (dim <= 0) {
    Napi::RangeError::New(env, "mmctr native: sparse update dim must be positive, got " + std::to_string(dim))
        .ThrowAsJavaScriptException();
    return false;
  }
  const int64_t nrows = tableSize / dim;
  for (size_t i = 0; i < rows.n; i++)
    if (rows.p[i] < 0 || rows.p[i] >= nrows) {
      Napi::RangeError::New(env, "mmctr native: sparse update row " + std::to_string(rows.p[i]) + " is outside the table")
          .ThrowAsJavaScriptException();
      return false;
    }
  return true;
}

// sparseAdam(table, m, v, dim, rows, grads, lr, beta1, beta2, eps, l2, step): grads holds one
// row per entry of rows (distinct); moments of untouched rows are left as they are (lazy Adam).
static Napi::Value sparseAdam(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 t, m, v, g;
  I32 rows;
  if (!f32(info, 0, t, "table") || !f32(info, 1, m, "m") || !f32(info, 2, v, "v") || !i32(info, 4, rows, "rows") ||
      !f32(info, 5, g, "grads"))
    return env.Undefined();
  const int64_t dim = int64(info, 3), k = (int64_t)rows.n;
  const float lr = (float)num(info, 6), b1 = (float)num(info, 7), b2 = (float)num(info, 8), eps = (float)num(info, 9);
  const float l2 = (float)num(info, 10);
  const double step = num(info, 11);
  if (!need(env, g.n, k * dim, "grads") || !need(env, m.n, t.n, "m") || !need(env, v.n, t.n, "v") ||
      !check_rows(env, rows, (int64_t)t.n, dim))
    return env.Undefined();
  const float c1 = (float)(1.0 / (1.0 - std::pow((double)b1, step)));
  const float c2 = (float)(1.0 / (1.0 - std::pow((double)b2, step)));
#pragma omp parallel for schedule(static) if (par(k * dim * 4))
  for (int64_t r = 0; r < k; r++) {
    // Rows are scattered over three vocabulary-sized arrays (table, m, v): fetching a few rows
    // ahead overlaps their cache misses instead of waiting on each in turn.
    if (r + 8 < k) {
      const int64_t ahead = (int64_t)rows.p[r + 8] * dim;
      for (int64_t c = 0; c < dim; c += 16) {
        __builtin_prefetch(t.p + ahead + c, 1);
        __builtin_prefetch(m.p + ahead + c, 1);
        __builtin_prefetch(v.p + ahead + c, 1);
      }
    }
    const int64_t base = (int64_t)rows.p[r] * dim;
    float* pp = t.p + base;
    float* pm = m.p + base;
    float* pv = v.p + base;
    const float* pg = g.p + r * dim;
    for (int64_t c = 0; c < dim; c++) {
      const float gi = pg[c] + l2 * pp[c];
      pm[c] = b1 * pm[c] + (1.f - b1) * gi;
      pv[c] = b2 * pv[c] + (1.f - b2) * gi * gi;
      pp[c] -= lr * (pm[c] * c1) / (std::sqrt(pv[c] * c2) + eps);
    }
  }
  return env.Undefined();
}

// sparseAdagrad(table, acc, dim, rows, grads, lr, eps, l2)
static Napi::Value sparseAdagrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 t, a, g;
  I32 rows;
  if (!f32(info, 0, t, "table") || !f32(info, 1, a, "acc") || !i32(info, 3, rows, "rows") || !f32(info, 4, g, "grads"))
    return env.Undefined();
  const int64_t dim = int64(info, 2), k = (int64_t)rows.n;
  const float lr = (float)num(info, 5), eps = (float)num(info, 6), l2 = (float)num(info, 7);
  if (!need(env, g.n, k * dim, "grads") || !need(env, a.n, t.n, "acc") || !check_rows(env, rows, (int64_t)t.n, dim))
    return env.Undefined();
#pragma omp parallel for schedule(static) if (par(k * dim * 4))
  for (int64_t r = 0; r < k; r++) {
    if (r + 8 < k) {  // as in sparseAdam
      const int64_t ahead = (int64_t)rows.p[r + 8] * dim;
      for (int64_t c = 0; c < dim; c += 16) {
        __builtin_prefetch(t.p + ahead + c, 1);
        __builtin_prefetch(a.p + ahead + c, 1);
      }
    }
    const int64_t base = (int64_t)rows.p[r] * dim;
    float* pp = t.p + base;
    float* pa = a.p + base;
    const float* pg = g.p + r * dim;
    for (int64_t c = 0; c < dim; c++) {
      const float gi = pg[c] + l2 * pp[c];
      pa[c] += gi * gi;
      pp[c] -= lr * gi / (std::sqrt(pa[c]) + eps);
    }
  }
  return env.Undefined();
}

void init_optim(Napi::Env env, Napi::Object exports) {
  MM_EXPORT(adam);
  MM_EXPORT(sgd);
  MM_EXPORT(sparseAdam);
  MM_EXPORT(sparseAdagrad);
}

}  // namespace mm
