// The argument reader (Args) and the thread policy shared by every kernel family.
#include "common.h"
#include <omp.h>
#include <cmath>
#include <cstdlib>
#include <string>

namespace mm {

static int g_threads = 0;

// OpenMP's thread count is a per-thread setting, and a thread that never sets it takes
// OMP_NUM_THREADS (or every core). OpenBLAS sizes each GEMM by the calling thread's setting, so
// every thread that runs kernels (Node's main thread, each ranking worker thread) sets it once.
int threads() {
  if (g_threads == 0) {
    const char* env = std::getenv("MMCTR_THREADS");
    int n = env ? std::atoi(env) : 0;
    g_threads = n > 0 ? n : omp_get_num_procs();
  }
  static thread_local bool t_set = false;
  if (!t_set) {
    omp_set_num_threads(g_threads);
    t_set = true;
  }
  return g_threads;
}

bool Args::take(Napi::Value& v) {
  const size_t i = at_++;
  if (!ok_) return false;
  v = info_[i];
  return true;
}

bool Args::wrong(const char* name, const char* expected) {
  return type_error(std::string("argument ") + std::to_string(at_ - 1) + " '" + name + "' must be " + expected);
}

bool Args::type_error(const std::string& message) {
  if (ok_) Napi::TypeError::New(info_.Env(), std::string("mmctr native: ") + kernel_ + ": " + message).ThrowAsJavaScriptException();
  ok_ = false;
  return false;
}

bool Args::range_error(const std::string& message) {
  if (ok_) Napi::RangeError::New(info_.Env(), std::string("mmctr native: ") + kernel_ + ": " + message).ThrowAsJavaScriptException();
  ok_ = false;
  return false;
}

bool Args::need(size_t have, int64_t want, const char* name) {
  if (!ok_) return false;
  if (want <= 0 || have >= (size_t)want) return true;
  return range_error(std::string(name) + " holds " + std::to_string(have) + " elements, the kernel needs " + std::to_string(want));
}

template <typename View, napi_typedarray_type Kind>
View Args::array(const char* name, bool nullable, const char* kindName) {
  View out;
  Napi::Value v;
  if (!take(v)) return out;
  if (nullable && (v.IsNull() || v.IsUndefined())) return out;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != Kind) {
    wrong(name, nullable ? (std::string("a ") + kindName + " or null").c_str() : (std::string("a ") + kindName).c_str());
    return out;
  }
  auto arr = v.As<Napi::TypedArray>();
  uint8_t* base = static_cast<uint8_t*>(arr.ArrayBuffer().Data());
  out.p = reinterpret_cast<decltype(out.p)>(base + arr.ByteOffset());
  out.n = arr.ElementLength();
  return out;
}

F32 Args::f32(const char* name) { return array<F32, napi_float32_array>(name, false, "Float32Array"); }
F32 Args::f32_or_null(const char* name) { return array<F32, napi_float32_array>(name, true, "Float32Array"); }
I32 Args::i32(const char* name) { return array<I32, napi_int32_array>(name, false, "Int32Array"); }
I32 Args::i32_or_null(const char* name) { return array<I32, napi_int32_array>(name, true, "Int32Array"); }
F64 Args::f64_or_null(const char* name) { return array<F64, napi_float64_array>(name, true, "Float64Array"); }

double Args::number(const char* name) {
  Napi::Value v;
  if (!take(v)) return 0;
  if (!v.IsNumber()) return wrong(name, "a number"), 0;
  return v.As<Napi::Number>().DoubleValue();
}

int64_t Args::integer(const char* name) {
  Napi::Value v;
  if (!take(v)) return 0;
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0.5;
  // Beyond +-2^63 the cast is undefined; JS integers past 2^53 are not exact anyway.
  if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > 9.2e18) return wrong(name, "an integer"), 0;
  return (int64_t)d;
}

int64_t Args::size(const char* name, const char* noun) {
  const int64_t v = integer(name);
  if (ok_ && v < 0) range_error(std::string(name) + " = " + std::to_string(v) + " is a negative " + noun + " (" + name + " >= 0 expected)");
  return ok_ ? v : 0;
}

int64_t Args::positive(const char* name) {
  const int64_t v = integer(name);
  if (ok_ && v < 1) range_error(std::string(name) + " must be positive, got " + std::to_string(v));
  return ok_ ? v : 0;
}

int Args::code(const char* name, int count) {
  const int64_t v = integer(name);
  if (ok_ && (v < 0 || v >= count))
    range_error(std::string(name) + " is " + std::to_string(v) + ", not one of the kernel's codes 0.." + std::to_string(count - 1) + " (native/codes.h)");
  return ok_ ? (int)v : 0;
}

bool Args::flag(const char* name) {
  Napi::Value v;
  if (!take(v)) return false;
  if (!v.IsBoolean()) return wrong(name, "true or false");
  return v.As<Napi::Boolean>().Value();
}

std::string Args::text(const char* name) {
  Napi::Value v;
  if (!take(v)) return std::string();
  if (!v.IsString()) return wrong(name, "a string"), std::string();
  return v.As<Napi::String>().Utf8Value();
}

}  // namespace mm
