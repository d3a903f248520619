// Counter-based random numbers: element i of a draw is a hash of (seed, counter + i). A stream's
// whole state is two integers, so checkpoints restore it exactly, and threads fill disjoint
// ranges with the same numbers a single thread would.
#include "common.h"
#include <cmath>

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
  return u < 1.f ? u : 0x1.fffffep-1f;
}

// fillUniform(out, seed, counter, lo, hi)
static Napi::Value fillUniform(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 o;
  if (!f32(info, 0, o, "out")) return env.Undefined();
  const uint64_t seed = (uint64_t)int64(info, 1), ctr = (uint64_t)int64(info, 2);
  const float lo = (float)num(info, 3), hi = (float)num(info, 4);
  const int64_t n = (int64_t)o.n;
#pragma omp parallel for schedule(static) if (par(n * 4))
  for (int64_t i = 0; i < n; i++) o.p[i] = lo + (hi - lo) * u01(seed, ctr + i);
  return env.Undefined();
}

// fillNormal(out, seed, counter, mean, std): Box-Muller; element i uses draws 2i and 2i+1.
static Napi::Value fillNormal(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 o;
  if (!f32(info, 0, o, "out")) return env.Undefined();
  const uint64_t seed = (uint64_t)int64(info, 1), ctr = (uint64_t)int64(info, 2);
  const float mean = (float)num(info, 3), sd = (float)num(info, 4);
  const int64_t n = (int64_t)o.n;
#pragma omp parallel for schedule(static) if (par(n * 8))
  for (int64_t i = 0; i < n; i++) {
    const float u1 = u01(seed, ctr + 2 * (uint64_t)i), u2 = u01(seed, ctr + 2 * (uint64_t)i + 1);
    o.p[i] = mean + sd * std::sqrt(-2.f * std::log(u1)) * std::cos(6.28318530718f * u2);
  }
  return env.Undefined();
}

// fillDropoutMask(out, seed, counter, keep): 1/keep with probability keep, else 0.
static Napi::Value fillDropoutMask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 o;
  if (!f32(info, 0, o, "out")) return env.Undefined();
  const uint64_t seed = (uint64_t)int64(info, 1), ctr = (uint64_t)int64(info, 2);
  const float keep = (float)num(info, 3), scale = 1.f / keep;
  const int64_t n = (int64_t)o.n;
#pragma omp parallel for schedule(static) if (par(n * 4))
  for (int64_t i = 0; i < n; i++) o.p[i] = u01(seed, ctr + i) < keep ? scale : 0.f;
  return env.Undefined();
}

void init_random(Napi::Env env, Napi::Object exports) {
  MM_EXPORT(fillUniform);
  MM_EXPORT(fillNormal);
  MM_EXPORT(fillDropoutMask);
}

}  // namespace mm
