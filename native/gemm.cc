// Matrix multiply: OpenBLAS sgemm where the build found it, else a cache-blocked built-in
// kernel that is always compiled (tests compare the two; MMCTR_BLAS=builtin selects it).
#include "common.h"
#include <omp.h>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#ifdef MMCTR_HAVE_OPENBLAS
#include <cblas.h>
extern "C" char* openblas_get_config(void);
extern "C" void openblas_set_num_threads(int);
#endif

namespace mm {

static bool g_use_openblas = false;
static bool g_backend_init = false;

static void init_backend() {
  if (g_backend_init) return;
  g_backend_init = true;
#ifdef MMCTR_HAVE_OPENBLAS
  const char* env = std::getenv("MMCTR_BLAS");
  g_use_openblas = !(env && std::string(env) == "builtin");
  openblas_set_num_threads(threads());
#endif
}

// C[M,N] = alpha * op(A) op(B) + beta * C, row-major, lda/ldb/ldc in elements.
MM_HOT static void builtin_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
                                 const float* B, int ldb, float beta, float* C, int ldc) {
  const int KC = 256, NC = 1024;
  for (int i = 0; i < M; i++) {
    float* c = C + (size_t)i * ldc;
    if (beta == 0.f) std::memset(c, 0, sizeof(float) * N);
    else if (beta != 1.f) for (int j = 0; j < N; j++) c[j] *= beta;
  }
  std::vector<float> packed((size_t)KC * NC);
  for (int n0 = 0; n0 < N; n0 += NC) {
    const int nb = std::min(NC, N - n0);
    for (int k0 = 0; k0 < K; k0 += KC) {
      const int kb = std::min(KC, K - k0);
      float* bp = packed.data();
      for (int k = 0; k < kb; k++)
        for (int j = 0; j < nb; j++)
          bp[(size_t)k * nb + j] = tb ? B[(size_t)(n0 + j) * ldb + k0 + k] : B[(size_t)(k0 + k) * ldb + n0 + j];
#pragma omp parallel for schedule(static) if (par((int64_t)M * nb * kb))
      for (int i = 0; i < M; i++) {
        float* __restrict c = C + (size_t)i * ldc + n0;
        for (int k = 0; k < kb; k++) {
          const float a = alpha * (ta ? A[(size_t)(k0 + k) * lda + i] : A[(size_t)i * lda + k0 + k]);
          if (a == 0.f) continue;
          const float* __restrict b = bp + (size_t)k * nb;
          for (int j = 0; j < nb; j++) c[j] += a * b[j];
        }
      }
    }
  }
}

#ifdef MMCTR_HAVE_OPENBLAS
static void blas_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                       int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B,
              ldb, beta, C, ldc);
}

// Below this many multiply-adds a product is not split (the fork costs more than it saves).
constexpr int64_t kSplitWork = 1 << 21;

// Splits C into one block of rows (or of columns, when C is wider than tall) per engine thread
// and runs OpenBLAS single-threaded on each (inside a parallel region it does not fork). On the
// skinny shapes of training steps this beats OpenBLAS's own two-thread partitioning by 7-50 %
// (4096x256x256: 191 -> 252 GFLOP/s; 56000x80x128: 128 -> 192), measured on 2 cores.
static void split_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                        int ldb, float beta, float* C, int ldc, int T) {
  const bool byRows = M >= N;
  const int extent = byRows ? M : N;
  // Part boundaries on multiples of 16 keep every part on the kernel's full-width path.
  const int unit = extent >= 16 * T ? 16 : 1;
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int blocks = (extent + unit - 1) / unit;
    const int b0 = (int)((int64_t)blocks * t / nt), b1 = (int)((int64_t)blocks * (t + 1) / nt);
    const int i0 = std::min(extent, b0 * unit), i1 = std::min(extent, b1 * unit);
    if (i1 > i0) {
      if (byRows) {
        const float* a = ta ? A + i0 : A + (size_t)i0 * lda;
        blas_sgemm(ta, tb, i1 - i0, N, K, alpha, a, lda, B, ldb, beta, C + (size_t)i0 * ldc, ldc);
      } else {
        const float* b = tb ? B + (size_t)i0 * ldb : B + i0;
        blas_sgemm(ta, tb, M, i1 - i0, K, alpha, A, lda, b, ldb, beta, C + i0, ldc);
      }
    }
  }
}

// A small C over a long reduction (weight gradients: [in, out] summed over the batch) splits
// the reduction instead: each thread reads only its share of A and B, and the partial products
// are added at the end.
static void split_k_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                          int ldb, float beta, float* C, int ldc, int T) {
  std::vector<float> part((size_t)(T - 1) * M * N);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int k0 = (int)((int64_t)K * t / nt), k1 = (int)((int64_t)K * (t + 1) / nt);
    const float* a = ta ? A + (size_t)k0 * lda : A + k0;
    const float* b = tb ? B + k0 : B + (size_t)k0 * ldb;
    if (t == 0) blas_sgemm(ta, tb, M, N, k1 - k0, alpha, a, lda, b, ldb, beta, C, ldc);
    else blas_sgemm(ta, tb, M, N, k1 - k0, alpha, a, lda, b, ldb, 0.f, part.data() + (size_t)(t - 1) * M * N, N);
#pragma omp barrier
#pragma omp for schedule(static)
    for (int i = 0; i < M; i++)
      for (int u = 1; u < nt; u++) {
        const float* p = part.data() + ((size_t)(u - 1) * M + i) * N;
        float* c = C + (size_t)i * ldc;
        for (int j = 0; j < N; j++) c[j] += p[j];
      }
  }
}
#endif

void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
           float beta, float* C, int ldc) {
  init_backend();
  if (M == 0 || N == 0) return;
#ifdef MMCTR_HAVE_OPENBLAS
  if (g_use_openblas) {
    const int T = threads();
    const bool big = T > 1 && !omp_in_parallel() && (int64_t)M * N * K >= kSplitWork;
    // Large products in every dimension stay with OpenBLAS's own threading, whose threads
    // share packed panels (splitting them lost 6 % at 1024^3 with the AVX-512 kernels).
    const bool square = std::min(M, N) >= 512 && K >= 512;
    if (big && K >= 16 * std::max(M, N) && (int64_t)M * N <= (1 << 20))
      split_k_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, T);
    else if (big && !square && std::max(M, N) >= 2 * T)
      split_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, T);
    else
      blas_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#endif
  builtin_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)
static Napi::Value gemm(const Napi::CallbackInfo& info) {
  Args a(info, "gemm");
  const bool ta = a.flag("transA"), tb = a.flag("transB");
  const int64_t M = a.size("M"), N = a.size("N"), K = a.size("K");
  const float alpha = (float)a.number("alpha");
  F32 A = a.f32("A");
  const int64_t lda = a.size("lda");
  F32 B = a.f32("B");
  const int64_t ldb = a.size("ldb");
  const float beta = (float)a.number("beta");
  F32 C = a.f32("C");
  const int64_t ldc = a.size("ldc");
  if (M > 0 && K > 0) a.need(A, ta ? (K - 1) * lda + M : (M - 1) * lda + K, "A");
  if (N > 0 && K > 0) a.need(B, tb ? (N - 1) * ldb + K : (K - 1) * ldb + N, "B");
  if (M > 0 && N > 0) a.need(C, (M - 1) * ldc + N, "C");
  if (!a.ok()) return a.done();
  sgemm(ta, tb, (int)M, (int)N, (int)K, alpha, A.p, (int)lda, B.p, (int)ldb, beta, C.p, (int)ldc);
  return a.done();
}

// gemmBatched(transA, transB, batch, M, N, K, alpha, A, strideA, B, strideB, beta, C, strideC):
// independent row-major products, each operand packed (lda = its row length), operand b at A + sA * b.
static void sgemm_batched(bool ta, bool tb, int batch, int M, int N, int K, float alpha, const float* A, int64_t sA,
                          const float* B, int64_t sB, float beta, float* C, int64_t sC) {
  init_backend();
  const int lda = ta ? M : K, ldb = tb ? K : N;
  if (batch < threads() || !par((int64_t)batch * M * N * K)) {
    for (int b = 0; b < batch; b++)
      sgemm(ta, tb, M, N, K, alpha, A + sA * b, lda, B + sB * b, ldb, beta, C + sC * b, N);
  } else {
    // One product per thread; BLAS calls inside an OpenMP region run single-threaded.
#pragma omp parallel for schedule(static)
    for (int b = 0; b < batch; b++)
      sgemm(ta, tb, M, N, K, alpha, A + sA * b, lda, B + sB * b, ldb, beta, C + sC * b, N);
  }
}

static Napi::Value gemmBatched(const Napi::CallbackInfo& info) {
  Args a(info, "gemmBatched");
  const bool ta = a.flag("transA"), tb = a.flag("transB");
  const int64_t batch = a.size("batch"), M = a.size("M"), N = a.size("N"), K = a.size("K");
  const float alpha = (float)a.number("alpha");
  F32 A = a.f32("A");
  const int64_t sA = a.size("strideA");
  F32 B = a.f32("B");
  const int64_t sB = a.size("strideB");
  const float beta = (float)a.number("beta");
  F32 C = a.f32("C");
  const int64_t sC = a.size("strideC");
  if (batch > 0) {
    a.need(A, sA * (batch - 1) + M * K, "A");
    a.need(B, sB * (batch - 1) + K * N, "B");
    a.need(C, sC * (batch - 1) + M * N, "C");
  }
  if (!a.ok() || batch == 0) return a.done();
  sgemm_batched(ta, tb, (int)batch, (int)M, (int)N, (int)K, alpha, A.p, sA, B.p, sB, beta, C.p, sC);
  return a.done();
}

static Napi::Value blasInfo(const Napi::CallbackInfo& info) {
  Args a(info, "blasInfo");
  Napi::Env env = a.env();
  init_backend();
  Napi::Object o = Napi::Object::New(env);
#ifdef MMCTR_HAVE_OPENBLAS
  o.Set("compiled", Napi::String::New(env, "openblas"));
  o.Set("config", Napi::String::New(env, openblas_get_config()));
#else
  o.Set("compiled", Napi::String::New(env, "builtin"));
  o.Set("config", Napi::String::New(env, "built-in blocked sgemm (OpenBLAS not found at build time)"));
#endif
  o.Set("active", Napi::String::New(env, g_use_openblas ? "openblas" : "builtin"));
  o.Set("threads", Napi::Number::New(env, threads()));
  // What OpenBLAS sizes a GEMM by when called from this thread (the main one or a worker).
  o.Set("callerOmpThreads", Napi::Number::New(env, omp_get_max_threads()));
  return o;
}

// setBlasBackend('openblas' | 'builtin'): returns false when OpenBLAS was not compiled in.
static Napi::Value setBlasBackend(const Napi::CallbackInfo& info) {
  Args a(info, "setBlasBackend");
  const std::string which = a.text("backend");
  if (a.ok() && which != "openblas" && which != "builtin") a.type_error("backend must be 'openblas' or 'builtin', got '" + which + "'");
  if (!a.ok()) return a.done();
  init_backend();
#ifdef MMCTR_HAVE_OPENBLAS
  g_use_openblas = which == "openblas";
  return Napi::Boolean::New(a.env(), true);
#else
  return Napi::Boolean::New(a.env(), which == "builtin");
#endif
}

// benchRawGemm(m, n, k, reps) -> seconds per call of the BLAS sgemm on row-major [m,k] x [k,n]
// (after one warm-up call), timed in C with no JS in the loop: the baseline that the matmul
// op's overhead is measured against.
static double bench_raw_gemm(int64_t M, int64_t N, int64_t K, int64_t reps) {
  init_backend();
  std::vector<float> A((size_t)(M * K)), B((size_t)(K * N)), C((size_t)(M * N));
  for (size_t i = 0; i < A.size(); i++) A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
  for (size_t i = 0; i < B.size(); i++) B[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
  auto call = [&]() {
#ifdef MMCTR_HAVE_OPENBLAS
    if (g_use_openblas) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.f, A.data(), (int)K, B.data(),
                  (int)N, 0.f, C.data(), (int)N);
      return;
    }
#endif
    builtin_sgemm(false, false, (int)M, (int)N, (int)K, 1.f, A.data(), (int)K, B.data(), (int)N, 0.f, C.data(), (int)N);
  };
  call();
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t r = 0; r < reps; r++) call();
  const std::chrono::duration<double> el = std::chrono::steady_clock::now() - t0;
  return el.count() / (double)reps;
}

static Napi::Value benchRawGemm(const Napi::CallbackInfo& info) {
  Args a(info, "benchRawGemm");
  const int64_t M = a.positive("m"), N = a.positive("n"), K = a.positive("k"), reps = a.positive("reps");
  if (a.ok() && (M * K > (1 << 28) || K * N > (1 << 28) || M * N > (1 << 28))) a.range_error("at most 2^28 elements per matrix");
  if (!a.ok()) return a.done();
  return Napi::Number::New(a.env(), bench_raw_gemm(M, N, K, reps));
}

void init_gemm(Napi::Env env, Napi::Object exports) {
  MM_EXPORT(benchRawGemm);
  MM_EXPORT(gemm);
  MM_EXPORT(gemmBatched);
  MM_EXPORT(blasInfo);
  MM_EXPORT(setBlasBackend);
}

}  // namespace mm
