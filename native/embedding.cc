// Embedding tables: row gather, gradient scatter-add, and id de-duplication (unique + inverse),
// so that sparse optimisers touch each batch row once and no dense table gradient exists.
#include "common.h"
#include <cstring>
#include <string>
#include <vector>
#include <omp.h>

namespace mm {

static bool check_ids(Napi::Env env, const int32_t* ids, size_t n, int64_t rows, const char* name) {
  for (size_t i = 0; i < n; i++)
    if (ids[i] < 0 || ids[i] >= rows) {
      std::string msg = std::string("mmctr native: ") + name + "[" + std::to_string(i) + "] = " +
                        std::to_string(ids[i]) + " is outside the table's " + std::to_string(rows) + " rows";
      Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
      return false;
    }
  return true;
}

// Row width of a table; a non-positive one would divide by zero below (SIGFPE).
static bool check_dim(Napi::Env env, int64_t dim) {
  if (dim > 0) return true;
  Napi::RangeError::New(env, "mmctr native: embedding dim must be positive, got " + std::to_string(dim))
      .ThrowAsJavaScriptException();
  return false;
}

// gatherRows(table, dim, ids, out): out[i, :] = table[ids[i], :].
static Napi::Value gatherRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 table, out;
  I32 ids;
  if (!f32(info, 0, table, "table") || !i32(info, 2, ids, "ids") || !f32(info, 3, out, "out")) return env.Undefined();
  const int64_t dim = int64(info, 1), n = (int64_t)ids.n;
  if (!check_dim(env, dim) || !need(env, out.n, n * dim, "out") || !check_ids(env, ids.p, ids.n, (int64_t)table.n / dim, "ids"))
    return env.Undefined();
#pragma omp parallel for schedule(static) if (par(n * dim))
  for (int64_t i = 0; i < n; i++) {
    // Random rows of a large table: start the misses of a few rows ahead while copying this one.
    if (i + 8 < n)
      for (int64_t c = 0; c < dim; c += 16) __builtin_prefetch(table.p + (int64_t)ids.p[i + 8] * dim + c);
    std::memcpy(out.p + i * dim, table.p + (int64_t)ids.p[i] * dim, sizeof(float) * dim);
  }
  return env.Undefined();
}

// scatterAddRows(src, dim, index, out): out[index[i], :] += src[i, :].
static Napi::Value scatterAddRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 src, out;
  I32 idx;
  if (!f32(info, 0, src, "src") || !i32(info, 2, idx, "index") || !f32(info, 3, out, "out")) return env.Undefined();
  const int64_t dim = int64(info, 1), n = (int64_t)idx.n;
  if (!check_dim(env, dim) || !need(env, src.n, n * dim, "src") || !check_ids(env, idx.p, idx.n, (int64_t)out.n / dim, "index"))
    return env.Undefined();
  const int T = par(n * dim) ? threads() : 1;
  if (T == 1) {
    for (int64_t i = 0; i < n; i++) {
      float* o = out.p + (int64_t)idx.p[i] * dim;
      const float* s = src.p + i * dim;
      for (int64_t c = 0; c < dim; c++) o[c] += s[c];
    }
    return env.Undefined();
  }
  // Each thread owns the destination rows congruent to its number: no two threads write a row.
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    for (int64_t i = 0; i < n; i++) {
      if (idx.p[i] % T != t) continue;
      float* o = out.p + (int64_t)idx.p[i] * dim;
      const float* s = src.p + i * dim;
      for (int64_t c = 0; c < dim; c++) o[c] += s[c];
    }
  }
  return env.Undefined();
}

// uniqueInverse(ids, unique, inverse) -> count: unique[0..count) lists the distinct ids in order
// of first appearance, inverse[i] is the position of ids[i] in it.
static Napi::Value uniqueInverse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  I32 ids, uniq, inv;
  if (!i32(info, 0, ids, "ids") || !i32(info, 1, uniq, "unique") || !i32(info, 2, inv, "inverse"))
    return env.Undefined();
  const size_t n = ids.n;
  if (!need(env, uniq.n, n, "unique") || !need(env, inv.n, n, "inverse")) return env.Undefined();
  size_t cap = 16;
  while (cap < n * 2) cap <<= 1;
  std::vector<int32_t> keys(cap, -1), slot(cap);
  int32_t count = 0;
  for (size_t i = 0; i < n; i++) {
    const int32_t id = ids.p[i];
    if (id < 0) {
      Napi::RangeError::New(env, "mmctr native: ids[" + std::to_string(i) + "] = " + std::to_string(id) + " is negative")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    size_t h = ((uint64_t)(uint32_t)id * 0x9E3779B97F4A7C15ull) >> 20;
    h &= cap - 1;
    while (keys[h] != -1 && keys[h] != id) h = (h + 1) & (cap - 1);
    if (keys[h] == -1) {
      keys[h] = id;
      slot[h] = count;
      uniq.p[count++] = id;
    }
    inv.p[i] = slot[h];
  }
  return Napi::Number::New(env, count);
}

void init_embedding(Napi::Env env, Napi::Object exports) {
  MM_EXPORT(gatherRows);
  MM_EXPORT(scatterAddRows);
  MM_EXPORT(uniqueInverse);
}

}  // namespace mm
