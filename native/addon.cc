// Module entry: registers every kernel family (one source file each).
#include "common.h"
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

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  keep_freed_memory_mapped();
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
