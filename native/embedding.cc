// Embedding tables: row gather, gradient scatter-add, and id de-duplication (unique + inverse),
// so that sparse optimisers touch each batch row once and no dense table gradient exists.
#include "common.h"
#include <cstring>
#include <string>
#include <vector>
#include <omp.h>

namespace mm {

static bool check_ids(Args& a, const I32& ids, int64_t rows, const char* name) {
  for (size_t i = 0; i < ids.n; i++)
    if (ids.p[i] < 0 || ids.p[i] >= rows)
      return a.range_error(std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(ids.p[i]) + " is outside the table's " +
                           std::to_string(rows) + " rows");
  return true;
}

// out[i, :] = table[ids[i], :].
static void gather_rows(const float* table, int64_t dim, const int32_t* ids, int64_t n, float* out) {
#pragma omp parallel for schedule(static) if (par(n * dim))
  for (int64_t i = 0; i < n; i++) {
    // Random rows of a large table: start the misses of a few rows ahead while copying this one.
    if (i + 8 < n)
      for (int64_t c = 0; c < dim; c += 16) __builtin_prefetch(table + (int64_t)ids[i + 8] * dim + c);
    std::memcpy(out + i * dim, table + (int64_t)ids[i] * dim, sizeof(float) * dim);
  }
}

// gatherRows(table, dim, ids, out): out[i, :] = table[ids[i], :].
static Napi::Value gatherRows(const Napi::CallbackInfo& info) {
  Args a(info, "gatherRows");
  F32 table = a.f32("table");
  // A non-positive width would divide by zero below (SIGFPE).
  const int64_t dim = a.positive("dim");
  I32 ids = a.i32("ids");
  F32 out = a.f32("out");
  a.need(out, (int64_t)ids.n * dim, "out");
  if (a.ok()) check_ids(a, ids, (int64_t)table.n / dim, "ids");
  if (!a.ok()) return a.done();
  gather_rows(table.p, dim, ids.p, (int64_t)ids.n, out.p);
  return a.done();
}

// out[index[i], :] += src[i, :].
MM_HOT static void scatter_add_rows(const float* src, int64_t dim, const int32_t* idx, int64_t n, float* out) {
  auto add_row = [&](int64_t i) {
    float* o = out + (int64_t)idx[i] * dim;
    const float* s = src + i * dim;
    for (int64_t c = 0; c < dim; c++) o[c] += s[c];
  };
  const int T = par(n * dim) ? threads() : 1;
  if (T == 1) {
    for (int64_t i = 0; i < n; i++) add_row(i);
    return;
  }
  // Each thread owns the destination rows congruent to its number: no two threads write a row.
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    for (int64_t i = 0; i < n; i++)
      if (idx[i] % T == t) add_row(i);
  }
}

// scatterAddRows(src, dim, index, out): out[index[i], :] += src[i, :].
static Napi::Value scatterAddRows(const Napi::CallbackInfo& info) {
  Args a(info, "scatterAddRows");
  F32 src = a.f32("src");
  const int64_t dim = a.positive("dim");
  I32 idx = a.i32("index");
  F32 out = a.f32("out");
  a.need(src, (int64_t)idx.n * dim, "src");
  if (a.ok()) check_ids(a, idx, (int64_t)out.n / dim, "index");
  if (!a.ok()) return a.done();
  scatter_add_rows(src.p, dim, idx.p, (int64_t)idx.n, out.p);
  return a.done();
}

// The distinct ids in order of first appearance (unique) and each id's position among them
// (inverse); returns their count. Ids must be non-negative (the caller checks).
static int32_t unique_inverse(const int32_t* ids, size_t n, int32_t* uniq, int32_t* inv) {
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  std::vector<int32_t> keys(cap, -1), slot(cap);
  int32_t count = 0;
  for (size_t i = 0; i < n; i++) {
    const int32_t id = ids[i];
    size_t h = ((uint64_t)(uint32_t)id * 0x9E3779B97F4A7C15ull) >> 20;
    h &= cap - 1;
    while (keys[h] != -1 && keys[h] != id) h = (h + 1) & (cap - 1);
    if (keys[h] == -1) {
      keys[h] = id;
      slot[h] = count;
      uniq[count++] = id;
    }
    inv[i] = slot[h];
  }
  return count;
}

// uniqueInverse(ids, unique, inverse) -> count: unique[0..count) lists the distinct ids in order
// of first appearance, inverse[i] is the position of ids[i] in it.
static Napi::Value uniqueInverse(const Napi::CallbackInfo& info) {
  Args a(info, "uniqueInverse");
  I32 ids = a.i32("ids"), uniq = a.i32("unique"), inv = a.i32("inverse");
  a.need(uniq, (int64_t)ids.n, "unique");
  a.need(inv, (int64_t)ids.n, "inverse");
  for (size_t i = 0; i < ids.n && a.ok(); i++)
    if (ids.p[i] < 0) a.range_error("ids[" + std::to_string(i) + "] = " + std::to_string(ids.p[i]) + " is negative");
  if (!a.ok()) return a.done();
  return Napi::Number::New(a.env(), unique_inverse(ids.p, ids.n, uniq.p, inv.p));
}

void init_embedding(Napi::Env env, Napi::Object exports) {
  MM_EXPORT(gatherRows);
  MM_EXPORT(scatterAddRows);
  MM_EXPORT(uniqueInverse);
}

}  // namespace mm
