// Fused kernels for the hot paths of CTR and contrastive training (DIN attention, InfoNCE).
#include "common.h"

namespace mm {

void init_fused(Napi::Env env, Napi::Object exports) {}

}  // namespace mm
