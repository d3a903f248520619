// Counter-based random numbers: element i of a draw is a hash of (seed, counter + i). A stream's
// whole state is two integers, so checkpoints restore it exactly, and threads fill disjoint
// ranges with the same numbers a single thread would.
#include "common.h"
#include <algorithm>
#include <cmath>
#include <cstring>
#include <omp.h>

namespace mm {

static inline uint64_t mix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// Uniform in (0, 1): 24 random bits, offset by half a step so log() never sees 0. Above 2^23
// the float32 sum k + 0.5 rounds to even, so the largest k gave exactly 1.0: clamp it to the
// largest float below 1 (every other value is unchanged).
static inline float u01(uint64_t seed, uint64_t i) {
  const float u = ((float)(mix(seed ^ mix(i)) >> 40) + 0.5f) * (1.f / 16777216.f);
  return std::min(u, 0x1.fffffep-1f);  // a min, not a branch: keeps the callers' loops SIMD
}

MM_HOT static void fill_uniform(float* o, int64_t n, uint64_t seed, uint64_t ctr, float lo, float hi) {
#pragma omp parallel for schedule(static) if (par(n * 4))
  for (int64_t i = 0; i < n; i++) o[i] = lo + (hi - lo) * u01(seed, ctr + i);
}

// A stream's state: its seed and the counter of its next draw (both non-negative integers).
static void read_stream(Args& a, uint64_t& seed, uint64_t& ctr) {
  seed = (uint64_t)a.size("seed");
  ctr = (uint64_t)a.size("counter");
}

// fillUniform(out, seed, counter, lo, hi)
static Napi::Value fillUniform(const Napi::CallbackInfo& info) {
  Args a(info, "fillUniform");
  F32 o = a.f32("out");
  uint64_t seed, ctr;
  read_stream(a, seed, ctr);
  const float lo = (float)a.number("lo"), hi = (float)a.number("hi");
  if (!a.ok()) return a.done();
  fill_uniform(o.p, (int64_t)o.n, seed, ctr, lo, hi);
  return a.done();
}

// ln(u) for u in (0, 1]: u = 2^e m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) with
// s = (m - 1) / (m + 1), |s| <= 0.172 (series to s^11: error below 1e-9). Branch-free so the
// normal kernel vectorises; glibc's logf and cosf are called one element at a time, which made
// drawing a 2048 x 256 normal batch cost more than the GEMMs that use it.
static inline float log01(float u) {
  int32_t bits;
  std::memcpy(&bits, &u, sizeof bits);
  int32_t e = ((bits >> 23) & 0xff) - 127;
  int32_t mbits = (bits & 0x7fffff) | 0x3f800000;  // m in [1, 2)
  float m;
  std::memcpy(&m, &mbits, sizeof m);
  // Selects between constants only: GCC will not if-convert a conditional float operation.
  const int32_t big = m > 1.41421356f;
  m *= big ? 0.5f : 1.f;
  e += big;
  const float s = (m - 1.f) / (m + 1.f), s2 = s * s;
  const float series = s * (2.f + s2 * (0.666666667f + s2 * (0.4f + s2 * (0.285714286f + s2 * (0.222222222f + s2 * 0.181818182f)))));
  return (float)e * 0.693147181f + series;
}

// cos(2 pi u) for u in [0, 1]: reduce to t in [0, 1/4] by symmetry, then the Taylor series of
// cos on [0, pi/2] to x^14 (error below 1e-9).
static inline float cos2pi(float u) {
  const float t0 = std::fabs(u - (float)(int32_t)(u + 0.5f));  // [0, 1/2], cos is even
  const float t = std::min(t0, 0.5f - t0);  // cos(2 pi t) = -cos(2 pi (1/2 - t)) above 1/4
  const float x = t * 6.28318530718f, x2 = x * x;
  const float c = 1.f + x2 * (-0.5f + x2 * (4.16666667e-2f + x2 * (-1.38888889e-3f + x2 * (2.48015873e-5f +
                  x2 * (-2.75573192e-7f + x2 * (2.08767570e-9f - x2 * 1.14707456e-11f))))));
  return std::copysign(c, 0.25f - t0);
}

MM_HOT static void normal_range(float* __restrict o, int64_t i0, int64_t i1, uint64_t seed, uint64_t ctr, float mean, float sd) {
#pragma omp simd
  for (int64_t i = i0; i < i1; i++) {
    const float u1 = u01(seed, ctr + 2 * (uint64_t)i), u2 = u01(seed, ctr + 2 * (uint64_t)i + 1);
    o[i] = mean + sd * std::sqrt(-2.f * log01(u1)) * cos2pi(u2);
  }
}

static void fill_normal(float* o, int64_t n, uint64_t seed, uint64_t ctr, float mean, float sd) {
  // Contiguous chunks per thread, each a plain SIMD loop (an `omp parallel for simd` here was
  // compiled to scalar code).
  const int T = par(n * 8) ? threads() : 1;
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    normal_range(o, n * t / nt, n * (t + 1) / nt, seed, ctr, mean, sd);
  }
}

// fillNormal(out, seed, counter, mean, std): Box-Muller; element i uses draws 2i and 2i+1.
static Napi::Value fillNormal(const Napi::CallbackInfo& info) {
  Args a(info, "fillNormal");
  F32 o = a.f32("out");
  uint64_t seed, ctr;
  read_stream(a, seed, ctr);
  const float mean = (float)a.number("mean"), sd = (float)a.number("std");
  if (!a.ok()) return a.done();
  fill_normal(o.p, (int64_t)o.n, seed, ctr, mean, sd);
  return a.done();
}

MM_HOT static void fill_dropout_mask(float* o, int64_t n, uint64_t seed, uint64_t ctr, float keep) {
  const float scale = 1.f / keep;
#pragma omp parallel for schedule(static) if (par(n * 4))
  for (int64_t i = 0; i < n; i++) o[i] = u01(seed, ctr + i) < keep ? scale : 0.f;
}

// fillDropoutMask(out, seed, counter, keep): 1/keep with probability keep, else 0.
static Napi::Value fillDropoutMask(const Napi::CallbackInfo& info) {
  Args a(info, "fillDropoutMask");
  F32 o = a.f32("out");
  uint64_t seed, ctr;
  read_stream(a, seed, ctr);
  const float keep = (float)a.number("keep");
  if (!a.ok()) return a.done();
  fill_dropout_mask(o.p, (int64_t)o.n, seed, ctr, keep);
  return a.done();
}

void init_random(Napi::Env env, Napi::Object exports) {
  MM_EXPORT(fillUniform);
  MM_EXPORT(fillNormal);
  MM_EXPORT(fillDropoutMask);
}

}  // namespace mm
