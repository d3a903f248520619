// Shared helpers for the native kernels: typed-array views without copies, argument checks
// that raise JS errors (never crash the process), and the parallel-for policy.
#pragma once
#include <napi.h>
#include <cstdint>
#include <cstddef>

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

}  // namespace mm

#define MM_EXPORT(name) exports.Set(#name, Napi::Function::New(env, name))
