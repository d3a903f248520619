// Module entry: registers every kernel family (one source file each) and the op codes they take.
#include "common.h"
#include "codes.h"
#include <malloc.h>
#include <cstdlib>
#include <cstring>

namespace mm {
void init_gemm(Napi::Env, Napi::Object);
void init_elementwise(Napi::Env, Napi::Object);
void init_reduce(Napi::Env, Napi::Object);
void init_embedding(Napi::Env, Napi::Object);
void init_optim(Napi::Env, Napi::Object);
void init_random(Napi::Env, Napi::Object);
void init_fused(Napi::Env, Napi::Object);
void init_simtier(Napi::Env, Napi::Object);
}  // namespace mm

// Training allocates and drops the same tensor sizes every step (4-30 MB each). By default
// glibc maps such blocks fresh and unmaps them on free, so every step pays a page fault per
// 4 KB inside the kernels that first write them (measured: 15-25 % of a GEMM's time). Serving
// blocks up to 32 MB (glibc's ceiling) from the heap and never trimming it keeps the memory
// mapped for reuse. MMCTR_KEEP_MEMORY=0, or the user's own GLIBC_TUNABLES, opt out.
static void keep_freed_memory_mapped() {
  const char* keep = std::getenv("MMCTR_KEEP_MEMORY");
  if ((keep && std::strcmp(keep, "0") == 0) || std::getenv("GLIBC_TUNABLES")) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

// codes.{activation, unary, binary}: name -> code, from native/codes.h (the TS ops read these).
static Napi::Object codes(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
#define MM_EXPORT_CODE(e, name, code) table.Set(name, Napi::Number::New(env, code));
  {
    Napi::Object table = Napi::Object::New(env);
    MM_ACTIVATIONS(MM_EXPORT_CODE)
    out.Set("activation", table);
  }
  {
    Napi::Object table = Napi::Object::New(env);
    MM_UNARY_OPS(MM_EXPORT_CODE)
    out.Set("unary", table);
  }
  {
    Napi::Object table = Napi::Object::New(env);
    MM_BINARY_OPS(MM_EXPORT_CODE)
    out.Set("binary", table);
  }
#undef MM_EXPORT_CODE
  return out;
}

// A long-running service (mmctr serve) wants the opposite for large blocks: a 10 MB request body
// mapped afresh and unmapped when it is freed, so a few large requests do not keep their memory
// for the life of the process (the service also trims the heap after them). Blocks under 4 MB
// (a ranking request's vector table, its [B, L] weights: 0.1-0.2 MB) stay in the heap, and up
// to 64 MB of free heap top is kept: V8 frees typed arrays in bursts, at the garbage collection
// its ~64 MB of new external memory triggers, and a lower threshold gave that back to the OS only
// to fault it in again. glibc's defaults (128 KB) cost 0.25-0.4 ms of a 3.7 ms forward pass of
// the default model; 32 MB instead of 64-128 MB about 0.15 ms of an ID-only request.
// keepFreedMemory(false) sets that; true puts the training setting back.
static Napi::Value KeepFreedMemory(const Napi::CallbackInfo& info) {
  mm::Args a(info, "keepFreedMemory");
  const bool keep = a.flag("keep");
  if (!a.ok()) return a.done();
  mallopt(M_MMAP_THRESHOLD, keep ? 32 << 20 : 4 << 20);
  mallopt(M_TRIM_THRESHOLD, keep ? 1 << 30 : 64 << 20);
  return info.Env().Undefined();
}

// Gives freed heap memory back to the OS, from the middle of the heap too (MADV_DONTNEED on its
// free pages), which the trim threshold never does: a long-running service calls it after large
// requests. Returns whether anything was released.
static Napi::Value TrimFreedMemory(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) == 1);
}

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  keep_freed_memory_mapped();
  exports.Set("codes", codes(env));
  exports.Set("keepFreedMemory", Napi::Function::New(env, KeepFreedMemory));
  exports.Set("trimFreedMemory", Napi::Function::New(env, TrimFreedMemory));
  mm::init_gemm(env, exports);
  mm::init_elementwise(env, exports);
  mm::init_reduce(env, exports);
  mm::init_embedding(env, exports);
  mm::init_optim(env, exports);
  mm::init_random(env, exports);
  mm::init_fused(env, exports);
  mm::init_simtier(env, exports);
  return exports;
}

NODE_API_MODULE(mmctr_native, Init)
