// Module entry: registers every kernel family (one source file each).
#include "common.h"

namespace mm {
void init_gemm(Napi::Env, Napi::Object);
void init_elementwise(Napi::Env, Napi::Object);
void init_reduce(Napi::Env, Napi::Object);
void init_embedding(Napi::Env, Napi::Object);
void init_optim(Napi::Env, Napi::Object);
void init_random(Napi::Env, Napi::Object);
void init_fused(Napi::Env, Napi::Object);
}  // namespace mm

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  mm::init_gemm(env, exports);
  mm::init_elementwise(env, exports);
  mm::init_reduce(env, exports);
  mm::init_embedding(env, exports);
  mm::init_optim(env, exports);
  mm::init_random(env, exports);
  mm::init_fused(env, exports);
  return exports;
}

NODE_API_MODULE(mmctr_native, Init)
