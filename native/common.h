// Shared helpers for the native kernels: typed-array views without copies, argument checks
// that raise JS errors (never crash the process), and the parallel-for policy.
#pragma once
#include <napi.h>
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <algorithm>

namespace mm {

struct F32 {
  float* p = nullptr;
  size_t n = 0;
};
struct I32 {
  int32_t* p = nullptr;
  size_t n = 0;
};

// Views a Float32Array argument; throws a TypeError naming the argument otherwise.
bool f32(const Napi::CallbackInfo& info, size_t i, F32& out, const char* name, bool nullable = false);
bool i32(const Napi::CallbackInfo& info, size_t i, I32& out, const char* name, bool nullable = false);
double num(const Napi::CallbackInfo& info, size_t i);
int64_t int64(const Napi::CallbackInfo& info, size_t i);
bool boolean(const Napi::CallbackInfo& info, size_t i);
void fail(Napi::Env env, const char* message);
// Requires v.n >= need; throws a RangeError naming the argument otherwise.
bool need(Napi::Env env, size_t have, size_t want, const char* name);

// Number of worker threads the kernels use (MMCTR_THREADS, default: all cores).
int threads();
// Work below this many scalar operations runs on one thread: the fork/join costs more.
constexpr int64_t kParallelGrain = 1 << 15;
inline bool par(int64_t work) { return work >= kParallelGrain && threads() > 1; }

// exp(x) = 2^k exp(r), |r| <= ln2 / 2, Cephes' degree-6 polynomial (about 1 ulp). Inputs are
// clamped to the range where 2^k stays a normal float, so it never overflows to inf; a NaN
// input still gives NaN (through the polynomial).
inline float fexp(float x) {
  x = std::min(std::max(x, -87.3f), 88.3f);
  const float kf = (x * 1.44269504089f + 12582912.f) - 12582912.f;  // round to nearest
  const float r = x - kf * 0.693359375f + kf * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.f;
  const int32_t bits = ((int32_t)kf + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return p * scale;
}

}  // namespace mm

#define MM_EXPORT(name) exports.Set(#name, Napi::Function::New(env, name))
