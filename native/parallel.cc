// Argument views and the thread policy shared by every kernel family.
#include "common.h"
#include <omp.h>
#include <cstdlib>

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

void fail(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

bool need(Napi::Env env, size_t have, size_t want, const char* name) {
  if (have >= want) return true;
  std::string msg = std::string("mmctr native: ") + name + " holds " + std::to_string(have) +
                    " elements, the kernel needs " + std::to_string(want);
  Napi::RangeError::New(env, msg).ThrowAsJavaScriptException();
  return false;
}

template <typename T, napi_typedarray_type Kind>
static bool view(const Napi::CallbackInfo& info, size_t i, T*& p, size_t& n, const char* name, bool nullable,
                 const char* kindName) {
  Napi::Value v = info[i];
  if (nullable && (v.IsNull() || v.IsUndefined())) {
    p = nullptr;
    n = 0;
    return true;
  }
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != Kind) {
    std::string msg = std::string("mmctr native: argument '") + name + "' must be a " + kindName;
    fail(info.Env(), msg.c_str());
    return false;
  }
  auto arr = v.As<Napi::TypedArray>();
  uint8_t* base = static_cast<uint8_t*>(arr.ArrayBuffer().Data());
  p = reinterpret_cast<T*>(base + arr.ByteOffset());
  n = arr.ElementLength();
  return true;
}

bool f32(const Napi::CallbackInfo& info, size_t i, F32& out, const char* name, bool nullable) {
  return view<float, napi_float32_array>(info, i, out.p, out.n, name, nullable, "Float32Array");
}
bool i32(const Napi::CallbackInfo& info, size_t i, I32& out, const char* name, bool nullable) {
  return view<int32_t, napi_int32_array>(info, i, out.p, out.n, name, nullable, "Int32Array");
}
double num(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().DoubleValue(); }
int64_t int64(const Napi::CallbackInfo& info, size_t i) { return info[i].As<Napi::Number>().Int64Value(); }
bool boolean(const Napi::CallbackInfo& info, size_t i) { return info[i].ToBoolean().Value(); }

}  // namespace mm
