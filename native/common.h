// Shared helpers for the native kernels: reading a kernel's arguments from JS with checks that
// raise JS errors (never crash the process), typed-array views without copies, and the
// parallel-for policy.
#pragma once
#include <napi.h>
#include <cstdint>
#include <cstddef>
#include <cstring>
#include <algorithm>
#include <string>

namespace mm {

// A view of a typed array's memory (p = nullptr for an optional argument given as null).
struct F32 {
  float* p = nullptr;
  size_t n = 0;
};
struct I32 {
  int32_t* p = nullptr;
  size_t n = 0;
};
struct F64 {
  double* p = nullptr;
  size_t n = 0;
};

// A kernel entry's arguments, read in their order and checked as they are read: the first bad
// one throws a JS TypeError (wrong type) or RangeError (a size, code or buffer out of range)
// naming the kernel and the argument, and every read after it returns an empty value. An entry
// reads everything, returns `done()` if `!ok()`, and only then calls its maths with plain
// pointers and sizes:
//   Args a(info, "axpy");
//   const float alpha = (float)a.number("alpha");
//   F32 x = a.f32("x"), y = a.f32("y");
//   a.need(x, y.n, "x");
//   if (!a.ok()) return a.done();
class Args {
 public:
  Args(const Napi::CallbackInfo& info, const char* kernel) : info_(info), kernel_(kernel) {}

  F32 f32(const char* name);                // a Float32Array
  F32 f32_or_null(const char* name);        // a Float32Array, or null / undefined
  I32 i32(const char* name);                // an Int32Array
  I32 i32_or_null(const char* name);
  F64 f64_or_null(const char* name);        // a Float64Array, or null / undefined
  double number(const char* name);          // any number
  int64_t integer(const char* name);        // a number without a fractional part
  int64_t size(const char* name, const char* noun = "size");  // an integer >= 0
  int64_t positive(const char* name);       // an integer >= 1
  int code(const char* name, int count);    // an op code in [0, count) (codes.h)
  bool flag(const char* name);              // true or false
  std::string text(const char* name);       // a string

  // A buffer must hold at least `want` elements: RangeError "<name> holds N elements, the
  // kernel needs M" otherwise.
  bool need(size_t have, int64_t want, const char* name);
  bool need(const F32& v, int64_t want, const char* name) { return need(v.n, want, name); }
  bool need(const I32& v, int64_t want, const char* name) { return need(v.n, want, name); }
  bool need(const F64& v, int64_t want, const char* name) { return need(v.n, want, name); }
  // A kernel-specific check failed: throws with the kernel's name before the message.
  bool range_error(const std::string& message);
  bool type_error(const std::string& message);

  bool ok() const { return ok_; }
  Napi::Env env() const { return info_.Env(); }
  Napi::Value done() const { return info_.Env().Undefined(); }

 private:
  bool take(Napi::Value& v);
  bool wrong(const char* name, const char* expected);
  template <typename View, napi_typedarray_type Kind>
  View array(const char* name, bool nullable, const char* kindName);

  const Napi::CallbackInfo& info_;
  const char* kernel_;
  size_t at_ = 0;
  bool ok_ = true;
};

// Runtime dispatch of the maths: the build's baseline is portable (x86-64-v2 on x86-64, see
// binding.gyp), and every function marked MM_HOT (the kernels' loops) is also compiled for
// x86-64-v3 (AVX2 + FMA) and x86-64-v4 (AVX-512 on 512-bit vectors, -mprefer-vector-width:
// measured on Zen 5, a ranking request's forward pass took 4.1 ms instead of 4.4 ms on 256-bit
// ones, the ID-only DIN's 1.85 ms instead of 2.1; the 64-bit multiplies of the RNG vectorise
// only there); the dynamic loader picks the
// clone the CPU runs, once (GCC's target_clones, an ifunc). Helpers inlined into a clone are
// compiled with it. Elsewhere (other architectures or compilers) MM_HOT is empty and the
// baseline is all there is.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define MM_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MM_HOT
#endif

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
