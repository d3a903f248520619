// Collectives for data-parallel training over Open MPI: a second addon (mmctr_mpi), built only
// where libmpi and its headers are present (binding.gyp, scripts/detect-mpi.mjs), and loaded
// only by a distributed run (src/distributed/mpi.ts), so no other process maps libmpi or pays
// for MPI_Init. Every call is blocking and made from the JS main thread (MPI_THREAD_FUNNELED):
// the kernels' OpenMP threads never talk to MPI.
//
// Buffers are typed arrays reduced or exchanged in place, without copies: Float32Array,
// Float64Array and Int32Array map to MPI_FLOAT, MPI_DOUBLE and MPI_INT.
#include <napi.h>
// The C API only: Open MPI's deprecated C++ bindings warn under this compiler.
#define OMPI_SKIP_MPICXX 1
#include <mpi.h>
#include <dlfcn.h>
#include <cstdint>
#include <string>
#include <vector>

namespace {

bool g_initialised = false;

Napi::Value fail(Napi::Env env, const std::string& what) {
  Napi::Error::New(env, "mmctr_mpi: " + what).ThrowAsJavaScriptException();
  return env.Undefined();
}

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(code, text, &len);
  return std::string(text, len);
}

struct Buffer {
  void* p = nullptr;
  int64_t n = 0;
  MPI_Datatype type = MPI_DATATYPE_NULL;
};

// A typed array as an MPI buffer; false (with a JS TypeError thrown) for any other value.
bool buffer_of(const Napi::Value& v, const char* call, const char* name, Buffer& out) {
  Napi::Env env = v.Env();
  if (!v.IsTypedArray()) {
    Napi::TypeError::New(env, std::string("mmctr_mpi.") + call + ": " + name + " must be a Float32Array, Float64Array or Int32Array").ThrowAsJavaScriptException();
    return false;
  }
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  switch (t.TypedArrayType()) {
    case napi_float32_array: out.type = MPI_FLOAT; break;
    case napi_float64_array: out.type = MPI_DOUBLE; break;
    case napi_int32_array: out.type = MPI_INT; break;
    default:
      Napi::TypeError::New(env, std::string("mmctr_mpi.") + call + ": " + name + " must be a Float32Array, Float64Array or Int32Array").ThrowAsJavaScriptException();
      return false;
  }
  out.p = static_cast<uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
  out.n = static_cast<int64_t>(t.ElementLength());
  if (out.n > INT32_MAX) {
    Napi::RangeError::New(env, std::string("mmctr_mpi.") + call + ": " + name + " holds more than 2^31 values; split it").ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

bool ready(Napi::Env env, const char* call) {
  if (g_initialised) return true;
  fail(env, std::string(call) + " before init()");
  return false;
}

// init() -> { rank, size, processor }. Open MPI loads its transport plugins with dlopen and they
// resolve libmpi's symbols globally; a Node addon is opened RTLD_LOCAL, so libmpi is first
// reopened RTLD_GLOBAL (the usual fix for MPI inside a dlopened module).
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!g_initialised) {
    dlopen("libmpi.so.40", RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
    int provided = 0;
    int rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    if (rc != MPI_SUCCESS) return fail(env, "MPI_Init_thread failed: " + mpi_error(rc));
    // Errors come back as codes (turned into JS errors here) instead of aborting in the library.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    g_initialised = true;
  }
  int rank = 0, size = 1, len = 0;
  char name[MPI_MAX_PROCESSOR_NAME];
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  MPI_Get_processor_name(name, &len);
  Napi::Object out = Napi::Object::New(env);
  out.Set("rank", rank);
  out.Set("size", size);
  out.Set("processor", std::string(name, len));
  return out;
}

// allreduceSum(buffer): every rank's buffer becomes the element-wise sum over ranks.
Napi::Value AllreduceSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ready(env, "allreduceSum")) return env.Undefined();
  Buffer b;
  if (!buffer_of(info[0], "allreduceSum", "buffer", b)) return env.Undefined();
  int rc = MPI_Allreduce(MPI_IN_PLACE, b.p, static_cast<int>(b.n), b.type, MPI_SUM, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return fail(env, "MPI_Allreduce failed: " + mpi_error(rc));
  return env.Undefined();
}

// allgatherv(send, counts: Int32Array[size], out): out = the ranks' send buffers one after
// another in rank order; counts[r] is rank r's length (every rank passes the same counts).
Napi::Value Allgatherv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ready(env, "allgatherv")) return env.Undefined();
  Buffer send, counts, out;
  if (!buffer_of(info[0], "allgatherv", "send", send) || !buffer_of(info[1], "allgatherv", "counts", counts) || !buffer_of(info[2], "allgatherv", "out", out)) return env.Undefined();
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (counts.type != MPI_INT || counts.n != size) return fail(env, "allgatherv: counts must be an Int32Array of one length per rank (" + std::to_string(size) + ")");
  if (send.type != out.type) return fail(env, "allgatherv: send and out must be typed arrays of the same kind");
  const int* c = static_cast<const int*>(counts.p);
  std::vector<int> displs(size);
  int64_t total = 0;
  for (int r = 0; r < size; r++) {
    displs[r] = static_cast<int>(total);
    total += c[r];
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (c[rank] != send.n) return fail(env, "allgatherv: counts[" + std::to_string(rank) + "] = " + std::to_string(c[rank]) + " but this rank sends " + std::to_string(send.n));
  if (out.n < total) return fail(env, "allgatherv: out holds " + std::to_string(out.n) + " values, the ranks send " + std::to_string(total));
  int rc = MPI_Allgatherv(send.p, static_cast<int>(send.n), send.type, out.p, c, displs.data(), out.type, MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return fail(env, "MPI_Allgatherv failed: " + mpi_error(rc));
  return env.Undefined();
}

// broadcast(buffer, root): every rank's buffer becomes root's.
Napi::Value Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ready(env, "broadcast")) return env.Undefined();
  Buffer b;
  if (!buffer_of(info[0], "broadcast", "buffer", b)) return env.Undefined();
  if (!info[1].IsNumber()) return fail(env, "broadcast: root must be a rank number");
  int rc = MPI_Bcast(b.p, static_cast<int>(b.n), b.type, info[1].As<Napi::Number>().Int32Value(), MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return fail(env, "MPI_Bcast failed: " + mpi_error(rc));
  return env.Undefined();
}

Napi::Value Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ready(env, "barrier")) return env.Undefined();
  int rc = MPI_Barrier(MPI_COMM_WORLD);
  if (rc != MPI_SUCCESS) return fail(env, "MPI_Barrier failed: " + mpi_error(rc));
  return env.Undefined();
}

// abort(code): ends every rank of the job (a rank that cannot go on must not leave the others
// blocked in a collective).
Napi::Value Abort(const Napi::CallbackInfo& info) {
  const int code = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1;
  if (g_initialised) MPI_Abort(MPI_COMM_WORLD, code);
  return info.Env().Undefined();
}

Napi::Value Finalize(const Napi::CallbackInfo& info) {
  if (g_initialised) {
    MPI_Finalize();
    g_initialised = false;
  }
  return info.Env().Undefined();
}

Napi::Object Setup(Napi::Env env, Napi::Object exports) {
  exports.Set("init", Napi::Function::New(env, Init));
  exports.Set("allreduceSum", Napi::Function::New(env, AllreduceSum));
  exports.Set("allgatherv", Napi::Function::New(env, Allgatherv));
  exports.Set("broadcast", Napi::Function::New(env, Broadcast));
  exports.Set("barrier", Napi::Function::New(env, Barrier));
  exports.Set("abort", Napi::Function::New(env, Abort));
  exports.Set("finalize", Napi::Function::New(env, Finalize));
  return exports;
}

}  // namespace

NODE_API_MODULE(mmctr_mpi, Setup)
