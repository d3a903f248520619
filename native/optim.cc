// Optimiser updates, dense and row-sparse. Sparse updates touch only the rows a batch used
// (lazy Adam / Adagrad), and L2 applies to those rows only, never to the whole table.
#include "common.h"
#include <cmath>
#include <string>

namespace mm {

// Dense Adam over n values; decoupled: AdamW (param -= lr * wd * param), otherwise wd is added
// to the gradient (L2).
MM_HOT static void adam_update(float* p, const float* g, float* m, float* v, int64_t n, float lr, float b1, float b2, float eps, float wd,
                               bool decoupled, double step) {
  const float c1 = (float)(1.0 / (1.0 - std::pow((double)b1, step)));
  const float c2 = (float)(1.0 / (1.0 - std::pow((double)b2, step)));
#pragma omp parallel for simd schedule(static) if (par(n * 4))
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    if (!decoupled && wd != 0.f) gi += wd * p[i];
    m[i] = b1 * m[i] + (1.f - b1) * gi;
    v[i] = b2 * v[i] + (1.f - b2) * gi * gi;
    float upd = (m[i] * c1) / (std::sqrt(v[i] * c2) + eps);
    if (decoupled && wd != 0.f) upd += wd * p[i];
    p[i] -= lr * upd;
  }
}

// adam(param, grad, m, v, lr, beta1, beta2, eps, weightDecay, decoupled, step)
static Napi::Value adam(const Napi::CallbackInfo& info) {
  Args a(info, "adam");
  F32 p = a.f32("param"), g = a.f32("grad"), m = a.f32("m"), v = a.f32("v");
  const float lr = (float)a.number("lr"), b1 = (float)a.number("beta1"), b2 = (float)a.number("beta2"), eps = (float)a.number("eps");
  const float wd = (float)a.number("weightDecay");
  const bool decoupled = a.flag("decoupled");
  const double step = a.number("step");
  const int64_t n = (int64_t)p.n;
  a.need(g, n, "grad");
  a.need(m, n, "m");
  a.need(v, n, "v");
  if (!a.ok()) return a.done();
  adam_update(p.p, g.p, m.p, v.p, n, lr, b1, b2, eps, wd, decoupled, step);
  return a.done();
}

MM_HOT static void sgd_update(float* p, const float* g, float* b, int64_t n, float lr, float mu, float wd) {
#pragma omp parallel for simd schedule(static) if (par(n * 2))
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    if (b) { b[i] = mu * b[i] + gi; gi = b[i]; }
    p[i] -= lr * gi;
  }
}

// sgd(param, grad, momentumBuf|null, lr, momentum, weightDecay)
static Napi::Value sgd(const Napi::CallbackInfo& info) {
  Args a(info, "sgd");
  F32 p = a.f32("param"), g = a.f32("grad"), b = a.f32_or_null("momentumBuf");
  const float lr = (float)a.number("lr"), mu = (float)a.number("momentum"), wd = (float)a.number("weightDecay");
  const int64_t n = (int64_t)p.n;
  a.need(g, n, "grad");
  if (b.p) a.need(b, n, "momentumBuf");
  if (!a.ok()) return a.done();
  sgd_update(p.p, g.p, b.p, n, lr, mu, wd);
  return a.done();
}

// The rows of a sparse update must lie inside the table of tableSize / dim rows.
static bool check_rows(Args& a, const I32& rows, int64_t tableSize, int64_t dim) {
  const int64_t nrows = tableSize / dim;
  for (size_t i = 0; i < rows.n; i++)
    if (rows.p[i] < 0 || rows.p[i] >= nrows) return a.range_error("sparse update row " + std::to_string(rows.p[i]) + " is outside the table");
  return true;
}

// Lazy Adam on the k listed rows (distinct) of a [*, dim] table; grads holds one row per entry.
MM_HOT static void sparse_adam(float* t, float* m, float* v, int64_t dim, const int32_t* rows, int64_t k, const float* g, float lr, float b1,
                               float b2, float eps, float l2, double step) {
  const float c1 = (float)(1.0 / (1.0 - std::pow((double)b1, step)));
  const float c2 = (float)(1.0 / (1.0 - std::pow((double)b2, step)));
#pragma omp parallel for schedule(static) if (par(k * dim * 4))
  for (int64_t r = 0; r < k; r++) {
    // Rows are scattered over three vocabulary-sized arrays (table, m, v): fetching a few rows
    // ahead overlaps their cache misses instead of waiting on each in turn.
    if (r + 8 < k) {
      const int64_t ahead = (int64_t)rows[r + 8] * dim;
      for (int64_t c = 0; c < dim; c += 16) {
        __builtin_prefetch(t + ahead + c, 1);
        __builtin_prefetch(m + ahead + c, 1);
        __builtin_prefetch(v + ahead + c, 1);
      }
    }
    const int64_t base = (int64_t)rows[r] * dim;
    float* pp = t + base;
    float* pm = m + base;
    float* pv = v + base;
    const float* pg = g + r * dim;
    for (int64_t c = 0; c < dim; c++) {
      const float gi = pg[c] + l2 * pp[c];
      pm[c] = b1 * pm[c] + (1.f - b1) * gi;
      pv[c] = b2 * pv[c] + (1.f - b2) * gi * gi;
      pp[c] -= lr * (pm[c] * c1) / (std::sqrt(pv[c] * c2) + eps);
    }
  }
}

// sparseAdam(table, m, v, dim, rows, grads, lr, beta1, beta2, eps, l2, step): grads holds one
// row per entry of rows (distinct); moments of untouched rows are left as they are (lazy Adam).
static Napi::Value sparseAdam(const Napi::CallbackInfo& info) {
  Args a(info, "sparseAdam");
  F32 t = a.f32("table"), m = a.f32("m"), v = a.f32("v");
  const int64_t dim = a.positive("dim");
  I32 rows = a.i32("rows");
  F32 g = a.f32("grads");
  const float lr = (float)a.number("lr"), b1 = (float)a.number("beta1"), b2 = (float)a.number("beta2"), eps = (float)a.number("eps");
  const float l2 = (float)a.number("l2");
  const double step = a.number("step");
  const int64_t k = (int64_t)rows.n;
  a.need(g, k * dim, "grads");
  a.need(m, (int64_t)t.n, "m");
  a.need(v, (int64_t)t.n, "v");
  if (a.ok()) check_rows(a, rows, (int64_t)t.n, dim);
  if (!a.ok()) return a.done();
  sparse_adam(t.p, m.p, v.p, dim, rows.p, k, g.p, lr, b1, b2, eps, l2, step);
  return a.done();
}

MM_HOT static void sparse_adagrad(float* t, float* acc, int64_t dim, const int32_t* rows, int64_t k, const float* g, float lr, float eps,
                                  float l2) {
#pragma omp parallel for schedule(static) if (par(k * dim * 4))
  for (int64_t r = 0; r < k; r++) {
    if (r + 8 < k) {  // as in sparse_adam
      const int64_t ahead = (int64_t)rows[r + 8] * dim;
      for (int64_t c = 0; c < dim; c += 16) {
        __builtin_prefetch(t + ahead + c, 1);
        __builtin_prefetch(acc + ahead + c, 1);
      }
    }
    const int64_t base = (int64_t)rows[r] * dim;
    float* pp = t + base;
    float* pa = acc + base;
    const float* pg = g + r * dim;
    for (int64_t c = 0; c < dim; c++) {
      const float gi = pg[c] + l2 * pp[c];
      pa[c] += gi * gi;
      pp[c] -= lr * gi / (std::sqrt(pa[c]) + eps);
    }
  }
}

// sparseAdagrad(table, acc, dim, rows, grads, lr, eps, l2)
static Napi::Value sparseAdagrad(const Napi::CallbackInfo& info) {
  Args a(info, "sparseAdagrad");
  F32 t = a.f32("table"), acc = a.f32("acc");
  const int64_t dim = a.positive("dim");
  I32 rows = a.i32("rows");
  F32 g = a.f32("grads");
  const float lr = (float)a.number("lr"), eps = (float)a.number("eps"), l2 = (float)a.number("l2");
  const int64_t k = (int64_t)rows.n;
  a.need(g, k * dim, "grads");
  a.need(acc, (int64_t)t.n, "acc");
  if (a.ok()) check_rows(a, rows, (int64_t)t.n, dim);
  if (!a.ok()) return a.done();
  sparse_adagrad(t.p, acc.p, dim, rows.p, k, g.p, lr, eps, l2);
  return a.done();
}

void init_optim(Napi::Env env, Napi::Object exports) {
  MM_EXPORT(adam);
  MM_EXPORT(sgd);
  MM_EXPORT(sparseAdam);
  MM_EXPORT(sparseAdagrad);
}

}  // namespace mm
