// Elementwise kernels: unary maps and their gradients, broadcasting binary ops, strided copies
// (transpose, slice, concat), bias + activation, PReLU and Dice. Backward kernels accumulate
// into the gradient buffer (gx += ...), so the tape never needs a temporary plus an add.
#include "common.h"
#include "codes.h"
#include <omp.h>
#include <cmath>
#include <cstring>
#include <vector>

namespace mm {

static inline float sigm(float x) { return 1.f / (1.f + std::exp(-x)); }

static inline float apply_unary(int op, float x) {
  switch (op) {
    case SIGMOID: return sigm(x);
    case RELU: return x > 0.f ? x : 0.f;
    case TANH: return std::tanh(x);
    case EXP: return std::exp(x);
    case LOG: return std::log(x);
    case NEG: return -x;
    case SQRT: return std::sqrt(x);
    case SQUARE: return x * x;
    default: return x;
  }
}

// d op / dx expressed with the input x and the output y (whichever is cheaper).
static inline float unary_grad(int op, float x, float y) {
  switch (op) {
    case SIGMOID: return y * (1.f - y);
    case RELU: return x > 0.f ? 1.f : 0.f;
    case TANH: return 1.f - y * y;
    case EXP: return y;
    case LOG: return 1.f / x;
    case NEG: return -1.f;
    case SQRT: return 0.5f / y;
    case SQUARE: return 2.f * x;
    default: return 1.f;
  }
}

template <int OP>
MM_HOT static void unary_loop(const float* __restrict x, float* __restrict y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (par(n * 8))
  for (int64_t i = 0; i < n; i++) y[i] = apply_unary(OP, x[i]);
}

void unary_apply(int op, const float* x, float* y, int64_t n) {
  switch (op) {
    case SIGMOID: unary_loop<SIGMOID>(x, y, n); break;
    case RELU: unary_loop<RELU>(x, y, n); break;
    case TANH: unary_loop<TANH>(x, y, n); break;
    case EXP: unary_loop<EXP>(x, y, n); break;
    case LOG: unary_loop<LOG>(x, y, n); break;
    case NEG: unary_loop<NEG>(x, y, n); break;
    case SQRT: unary_loop<SQRT>(x, y, n); break;
    case SQUARE: unary_loop<SQUARE>(x, y, n); break;
    default: if (x != y) std::memcpy(y, x, sizeof(float) * n);
  }
}

MM_HOT static void unary_backward(int op, const float* x, const float* y, const float* gy, float* gx, int64_t n) {
#pragma omp parallel for schedule(static) if (par(n * 4))
  for (int64_t i = 0; i < n; i++) gx[i] += unary_grad(op, x[i], y[i]) * gy[i];
}

// unary(op, x, y): y = op(x); y may be x.
static Napi::Value unary(const Napi::CallbackInfo& info) {
  Args a(info, "unary");
  const int op = a.code("op", kUnaryOps);
  F32 x = a.f32("x"), y = a.f32("y");
  a.need(y, x.n, "y");
  if (!a.ok()) return a.done();
  unary_apply(op, x.p, y.p, (int64_t)x.n);
  return a.done();
}

// unaryBackward(op, x, y, gy, gx): gx += op'(x) * gy.
static Napi::Value unaryBackward(const Napi::CallbackInfo& info) {
  Args a(info, "unaryBackward");
  const int op = a.code("op", kUnaryOps);
  F32 x = a.f32("x"), y = a.f32("y"), gy = a.f32("gy"), gx = a.f32("gx");
  const int64_t n = (int64_t)gx.n;
  a.need(x, n, "x");
  a.need(y, n, "y");
  a.need(gy, n, "gy");
  if (!a.ok()) return a.done();
  unary_backward(op, x.p, y.p, gy.p, gx.p, n);
  return a.done();
}

static inline float apply_binary(int op, float a, float b) {
  switch (op) {
    case ADD: return a + b;
    case SUB: return a - b;
    case MUL: return a * b;
    default: return a / b;
  }
}

// A broadcast is described by the output shape and, per operand, strides in elements (0 on a
// broadcast axis). Rows = all axes but the last; the last axis is the inner loop.
struct Layout {
  std::vector<int64_t> shape, sa, sb;
  int64_t rows = 1, cols = 1;
  // Reads (shape, aStrides, bStrides), each an Int32Array of the output's rank.
  bool read(Args& args) {
    I32 s = args.i32("shape"), a = args.i32("aStrides"), b = args.i32("bStrides");
    args.need(a, (int64_t)s.n, "aStrides");
    args.need(b, (int64_t)s.n, "bStrides");
    if (!args.ok()) return false;
    if (s.n == 0) { shape = {1}; sa = {0}; sb = {0}; }
    else {
      shape.assign(s.p, s.p + s.n); sa.assign(a.p, a.p + s.n); sb.assign(b.p, b.p + s.n);
    }
    cols = shape.back();
    rows = 1;
    for (size_t d = 0; d + 1 < shape.size(); d++) rows *= shape[d];
    return true;
  }
  // Offset of row r in an operand with the given strides.
  int64_t offset(int64_t r, const std::vector<int64_t>& st) const {
    int64_t off = 0;
    for (int d = (int)shape.size() - 2; d >= 0; d--) {
      int64_t k = r % shape[d];
      r /= shape[d];
      off += k * st[d];
    }
    return off;
  }
  // Largest element offset + 1 an operand needs.
  int64_t extent(const std::vector<int64_t>& st) const {
    int64_t e = 0;
    for (size_t d = 0; d < shape.size(); d++) e += (shape[d] - 1) * st[d];
    return e + 1;
  }
  // True when no two output positions map to the same operand element in different rows.
  bool rows_disjoint(const std::vector<int64_t>& st) const {
    for (size_t d = 0; d + 1 < shape.size(); d++)
      if (st[d] == 0 && shape[d] > 1) return false;
    return true;
  }
};

MM_HOT static void binary_apply(int op, const float* a, const float* b, float* out, const Layout& L) {
  const int64_t cols = L.cols, ca = L.sa.back(), cb = L.sb.back();
#pragma omp parallel for schedule(static) if (par(L.rows * cols))
  for (int64_t r = 0; r < L.rows; r++) {
    const float* pa = a + L.offset(r, L.sa);
    const float* pb = b + L.offset(r, L.sb);
    float* po = out + r * cols;
    if (ca == 1 && cb == 1) for (int64_t c = 0; c < cols; c++) po[c] = apply_binary(op, pa[c], pb[c]);
    else if (ca == 1 && cb == 0) { const float v = pb[0]; for (int64_t c = 0; c < cols; c++) po[c] = apply_binary(op, pa[c], v); }
    else if (ca == 0 && cb == 1) { const float v = pa[0]; for (int64_t c = 0; c < cols; c++) po[c] = apply_binary(op, v, pb[c]); }
    else for (int64_t c = 0; c < cols; c++) po[c] = apply_binary(op, pa[c * ca], pb[c * cb]);
  }
}

// Accumulates the gradient of operand a (forA) or b into g, summing over its broadcast axes.
MM_HOT static void binary_backward(int op, const float* a, const float* b, const float* gy, bool forA, float* g, const Layout& L) {
  const int64_t cols = L.cols, ca = L.sa.back(), cb = L.sb.back();
  const std::vector<int64_t>& st = forA ? L.sa : L.sb;
  const int64_t cs = forA ? ca : cb;
  auto row = [&](int64_t r) {
    const float* pa = a + L.offset(r, L.sa);
    const float* pb = b + L.offset(r, L.sb);
    const float* pg = gy + r * cols;
    float* pt = g + L.offset(r, st);
    for (int64_t c = 0; c < cols; c++) {
      const float av = pa[c * ca], bv = pb[c * cb], gv = pg[c];
      float d;
      switch (op) {
        case ADD: d = gv; break;
        case SUB: d = forA ? gv : -gv; break;
        case MUL: d = forA ? gv * bv : gv * av; break;
        default: d = forA ? gv / bv : -gv * av / (bv * bv);
      }
      pt[c * cs] += d;
    }
  };
  if (cs != 0 && L.rows_disjoint(st)) {
#pragma omp parallel for schedule(static) if (par(L.rows * cols))
    for (int64_t r = 0; r < L.rows; r++) row(r);
  } else {
    for (int64_t r = 0; r < L.rows; r++) row(r);
  }
}

// binary(op, a, b, out, shape, aStrides, bStrides): out (contiguous, shape) = a op b.
static Napi::Value binary(const Napi::CallbackInfo& info) {
  Args args(info, "binary");
  const int op = args.code("op", kBinaryOps);
  F32 a = args.f32("a"), b = args.f32("b"), out = args.f32("out");
  Layout L;
  if (!L.read(args)) return args.done();
  args.need(out, L.rows * L.cols, "out");
  args.need(a, L.extent(L.sa), "a");
  args.need(b, L.extent(L.sb), "b");
  if (!args.ok()) return args.done();
  binary_apply(op, a.p, b.p, out.p, L);
  return args.done();
}

// binaryBackward(op, a, b, gy, ga|null, gb|null, shape, aStrides, bStrides): accumulates the
// gradient of each operand, summing over its broadcast axes.
static Napi::Value binaryBackward(const Napi::CallbackInfo& info) {
  Args args(info, "binaryBackward");
  const int op = args.code("op", kBinaryOps);
  F32 a = args.f32("a"), b = args.f32("b"), gy = args.f32("gy"), ga = args.f32_or_null("ga"), gb = args.f32_or_null("gb");
  Layout L;
  if (!L.read(args)) return args.done();
  args.need(gy, L.rows * L.cols, "gy");
  if (ga.p) args.need(ga, L.extent(L.sa), "ga");
  if (gb.p) args.need(gb, L.extent(L.sb), "gb");
  if (!args.ok()) return args.done();
  if (ga.p) binary_backward(op, a.p, b.p, gy.p, true, ga.p, L);
  if (gb.p) binary_backward(op, a.p, b.p, gy.p, false, gb.p, L);
  return args.done();
}

// dst[view] (+)= src[view] over an N-d index space (nd >= 1, every extent >= 1).
MM_HOT static void strided_copy(const float* src, int64_t so, const int32_t* ss, float* dst, int64_t dof, const int32_t* ds,
                                const int32_t* sh, int nd, bool acc) {
  int64_t rows = 1;
  for (int d = 0; d < nd - 1; d++) rows *= sh[d];
  const int64_t cols = sh[nd - 1], sc = ss[nd - 1], dc = ds[nd - 1];
#pragma omp parallel for schedule(static) if (par(rows * cols))
  for (int64_t r = 0; r < rows; r++) {
    int64_t rem = r, sOff = so, dOff = dof;
    for (int d = nd - 2; d >= 0; d--) {
      int64_t k = rem % sh[d];
      rem /= sh[d];
      sOff += k * ss[d];
      dOff += k * ds[d];
    }
    const float* s = src + sOff;
    float* t = dst + dOff;
    if (sc == 1 && dc == 1) {
      if (acc) for (int64_t c = 0; c < cols; c++) t[c] += s[c];
      else std::memcpy(t, s, sizeof(float) * cols);
    } else if (acc) for (int64_t c = 0; c < cols; c++) t[c * dc] += s[c * sc];
    else for (int64_t c = 0; c < cols; c++) t[c * dc] = s[c * sc];
  }
}

// stridedCopy(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape, accumulate):
// dst[view] (+)= src[view] over an N-d index space; serves transpose, slice, concat, and their
// gradients.
static Napi::Value stridedCopy(const Napi::CallbackInfo& info) {
  Args a(info, "stridedCopy");
  F32 src = a.f32("src");
  const int64_t so = a.size("srcOffset");
  I32 ss = a.i32("srcStrides");
  F32 dst = a.f32("dst");
  const int64_t dof = a.size("dstOffset");
  I32 ds = a.i32("dstStrides"), sh = a.i32("shape");
  const bool acc = a.flag("accumulate");
  const int nd = (int)sh.n;
  a.need(ss, nd, "srcStrides");
  a.need(ds, nd, "dstStrides");
  if (!a.ok()) return a.done();
  int64_t srcExt = so + 1, dstExt = dof + 1;
  for (int d = 0; d < nd; d++) {
    if (sh.p[d] == 0) return a.done();
    if (sh.p[d] < 0) return a.range_error("shape has a negative extent"), a.done();
    srcExt += (int64_t)(sh.p[d] - 1) * ss.p[d];
    dstExt += (int64_t)(sh.p[d] - 1) * ds.p[d];
  }
  a.need(src, srcExt, "src");
  a.need(dst, dstExt, "dst");
  if (!a.ok()) return a.done();
  if (nd == 0) {
    if (acc) dst.p[dof] += src.p[so];
    else dst.p[dof] = src.p[so];
  } else
    strided_copy(src.p, so, ss.p, dst.p, dof, ds.p, sh.p, nd, acc);
  return a.done();
}

MM_HOT static void axpy_apply(float alpha, const float* x, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (par(n))
  for (int64_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

// axpy(alpha, x, y): y += alpha * x.
static Napi::Value axpy(const Napi::CallbackInfo& info) {
  Args a(info, "axpy");
  const float alpha = (float)a.number("alpha");
  F32 x = a.f32("x"), y = a.f32("y");
  a.need(x, y.n, "x");
  if (!a.ok()) return a.done();
  axpy_apply(alpha, x.p, y.p, (int64_t)y.n);
  return a.done();
}

MM_HOT static void scale_shift(const float* x, float alpha, float beta, float* y, int64_t n) {
#pragma omp parallel for simd schedule(static) if (par(n))
  for (int64_t i = 0; i < n; i++) y[i] = alpha * x[i] + beta;
}

// scaleShift(x, alpha, beta, y): y = alpha * x + beta.
static Napi::Value scaleShift(const Napi::CallbackInfo& info) {
  Args a(info, "scaleShift");
  F32 x = a.f32("x");
  const float alpha = (float)a.number("alpha"), beta = (float)a.number("beta");
  F32 y = a.f32("y");
  a.need(x, y.n, "x");
  if (!a.ok()) return a.done();
  scale_shift(x.p, alpha, beta, y.p, (int64_t)y.n);
  return a.done();
}

static inline float act_fwd(int act, float z) {
  switch (act) {
    case ACT_RELU: return z > 0.f ? z : 0.f;
    case ACT_SIGMOID: return sigm(z);
    case ACT_TANH: return std::tanh(z);
    default: return z;
  }
}
static inline float act_grad_from_y(int act, float y) {
  switch (act) {
    case ACT_RELU: return y > 0.f ? 1.f : 0.f;
    case ACT_SIGMOID: return y * (1.f - y);
    case ACT_TANH: return 1.f - y * y;
    default: return 1.f;
  }
}

// One instantiation per activation: with the switch inside, the loops stayed scalar.
template <int ACT>
MM_HOT static void bias_activation_rows(float* y, const float* bias, int64_t rows, int64_t cols) {
#pragma omp parallel for schedule(static) if (par(rows * cols * 4))
  for (int64_t r = 0; r < rows; r++) {
    float* __restrict p = y + r * cols;
    if (bias) {
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) p[c] = act_fwd(ACT, p[c] + bias[c]);
    } else {
#pragma omp simd
      for (int64_t c = 0; c < cols; c++) p[c] = act_fwd(ACT, p[c]);
    }
  }
}

void bias_activation(float* y, const float* bias, int64_t rows, int64_t cols, int act) {
  switch (act) {
    case ACT_RELU: bias_activation_rows<ACT_RELU>(y, bias, rows, cols); break;
    case ACT_SIGMOID: bias_activation_rows<ACT_SIGMOID>(y, bias, rows, cols); break;
    case ACT_TANH: bias_activation_rows<ACT_TANH>(y, bias, rows, cols); break;
    default: bias_activation_rows<ACT_NONE>(y, bias, rows, cols);
  }
}

// Column sums of a [rows, cols] matrix, accumulated into out (per-thread partials, then merged).
MM_HOT void column_sums_acc(const float* g, int64_t rows, int64_t cols, float* out) {
  const int T = par(rows * cols) ? threads() : 1;
  std::vector<float> part((size_t)T * cols, 0.f);
#pragma omp parallel for schedule(static) num_threads(T)
  for (int t = 0; t < T; t++) {
    float* acc = part.data() + (size_t)t * cols;
    const int64_t r0 = rows * t / T, r1 = rows * (t + 1) / T;
    for (int64_t r = r0; r < r1; r++) {
      const float* p = g + r * cols;
      for (int64_t c = 0; c < cols; c++) acc[c] += p[c];
    }
  }
  for (int t = 0; t < T; t++)
    for (int64_t c = 0; c < cols; c++) out[c] += part[(size_t)t * cols + c];
}

template <int ACT>
MM_HOT static void activation_backward_range(const float* __restrict y, const float* __restrict gy, float* __restrict gz,
                                             int64_t i0, int64_t i1) {
#pragma omp simd
  for (int64_t i = i0; i < i1; i++) gz[i] = gy[i] * act_grad_from_y(ACT, y[i]);
}

// Contiguous chunks per thread, each a plain SIMD loop (an `omp parallel for simd` with an
// `if` clause was compiled to scalar code).
void activation_backward(const float* y, const float* gy, float* gz, int64_t n, int act) {
  const int T = par(n) ? threads() : 1;
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int64_t i0 = n * t / nt, i1 = n * (t + 1) / nt;
    switch (act) {
      case ACT_RELU: activation_backward_range<ACT_RELU>(y, gy, gz, i0, i1); break;
      case ACT_SIGMOID: activation_backward_range<ACT_SIGMOID>(y, gy, gz, i0, i1); break;
      case ACT_TANH: activation_backward_range<ACT_TANH>(y, gy, gz, i0, i1); break;
      default: activation_backward_range<ACT_NONE>(y, gy, gz, i0, i1);
    }
  }
}

// The dense kernels' activations: none, ReLU, sigmoid, tanh (PReLU has its own kernels).
static int dense_activation(Args& a) {
  const int act = a.code("activation", kActivations);
  if (a.ok() && act == ACT_PRELU) a.range_error("activation is PReLU, which needs its slope: use prelu / biasActivationEx");
  return act;
}

// biasActivation(y, bias|null, rows, cols, act): y = act(y + bias) in place.
static Napi::Value biasActivation(const Napi::CallbackInfo& info) {
  Args a(info, "biasActivation");
  F32 y = a.f32("y"), b = a.f32_or_null("bias");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  const int act = dense_activation(a);
  a.need(y, rows * cols, "y");
  if (b.p) a.need(b, cols, "bias");
  if (!a.ok()) return a.done();
  bias_activation(y.p, b.p, rows, cols, act);
  return a.done();
}

// activationBackward(y, gy, gz, rows, cols, act, gbias|null): gz = gy * act'(y) (overwrites),
// gbias += column sums of gz.
static Napi::Value activationBackward(const Napi::CallbackInfo& info) {
  Args a(info, "activationBackward");
  F32 y = a.f32("y"), gy = a.f32("gy"), gz = a.f32("gz");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  const int act = dense_activation(a);
  F32 gb = a.f32_or_null("gbias");
  a.need(y, rows * cols, "y");
  a.need(gy, rows * cols, "gy");
  a.need(gz, rows * cols, "gz");
  if (gb.p) a.need(gb, cols, "gbias");
  if (!a.ok()) return a.done();
  activation_backward(y.p, gy.p, gz.p, rows * cols, act);
  if (gb.p) column_sums_acc(gz.p, rows, cols, gb.p);
  return a.done();
}

// columnSums(x, rows, cols, out): out += column sums.
static Napi::Value columnSums(const Napi::CallbackInfo& info) {
  Args a(info, "columnSums");
  F32 x = a.f32("x");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F32 out = a.f32("out");
  a.need(x, rows * cols, "x");
  a.need(out, cols, "out");
  if (!a.ok()) return a.done();
  column_sums_acc(x.p, rows, cols, out.p);
  return a.done();
}

// y = max(x, 0) + alpha * min(x, 0); alpha has one value (as = 0) or one per column (as = 1).
MM_HOT static void prelu_forward(const float* x, const float* alpha, int64_t as, int64_t rows, int64_t cols, float* y) {
#pragma omp parallel for schedule(static) if (par(rows * cols))
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      const float v = x[r * cols + c];
      y[r * cols + c] = v > 0.f ? v : alpha[c * as] * v;
    }
}

MM_HOT static void prelu_backward(const float* x, const float* alpha, int64_t as, const float* gy, int64_t rows, int64_t cols,
                                  float* gx, float* galpha) {
  if (gx) {
#pragma omp parallel for schedule(static) if (par(rows * cols))
    for (int64_t r = 0; r < rows; r++)
      for (int64_t c = 0; c < cols; c++) {
        const int64_t i = r * cols + c;
        gx[i] += x[i] > 0.f ? gy[i] : alpha[c * as] * gy[i];
      }
  }
  if (galpha) {
    for (int64_t r = 0; r < rows; r++)
      for (int64_t c = 0; c < cols; c++) {
        const int64_t i = r * cols + c;
        if (x[i] <= 0.f) galpha[c * as] += x[i] * gy[i];
      }
  }
}

// prelu(x, alpha, rows, cols, y): alpha has 1 or cols entries.
static Napi::Value prelu(const Napi::CallbackInfo& info) {
  Args a(info, "prelu");
  F32 x = a.f32("x"), al = a.f32("alpha");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F32 y = a.f32("y");
  const int64_t as = al.n == 1 ? 0 : 1;
  a.need(x, rows * cols, "x");
  a.need(y, rows * cols, "y");
  a.need(al, as ? cols : 1, "alpha");
  if (!a.ok()) return a.done();
  prelu_forward(x.p, al.p, as, rows, cols, y.p);
  return a.done();
}

// preluBackward(x, alpha, gy, rows, cols, gx|null, galpha|null)
static Napi::Value preluBackward(const Napi::CallbackInfo& info) {
  Args a(info, "preluBackward");
  F32 x = a.f32("x"), al = a.f32("alpha"), gy = a.f32("gy");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F32 gx = a.f32_or_null("gx"), ga = a.f32_or_null("galpha");
  const int64_t as = al.n == 1 ? 0 : 1;
  a.need(x, rows * cols, "x");
  a.need(gy, rows * cols, "gy");
  a.need(al, as ? cols : 1, "alpha");
  if (gx.p) a.need(gx, rows * cols, "gx");
  if (ga.p) a.need(ga, as ? cols : 1, "galpha");
  if (!a.ok()) return a.done();
  prelu_backward(x.p, al.p, as, gy.p, rows, cols, gx.p, ga.p);
  return a.done();
}

// Per-column sum and sum of squares of x [rows, cols] in double, then the row count:
// out = [s(cols), s2(cols), rows]. Dice's batch statistics are these; a data-parallel run sums
// them over ranks (diceMoments, then dice with `moments`) so every rank standardises by the
// global batch's statistics, as one process training the whole batch would.
MM_HOT static void dice_moments(const float* x, int64_t rows, int64_t cols, double* out) {
  for (int64_t c = 0; c < cols; c++) {
    double s = 0, s2 = 0;
    for (int64_t r = 0; r < rows; r++) { double v = x[r * cols + c]; s += v; s2 += v * v; }
    out[c] = s;
    out[cols + c] = s2;
  }
  out[2 * cols] = (double)rows;
}

// Dice forward (see dice below); the statistics are saved for the backward pass. `moments`
// (dice_moments' layout, possibly summed over ranks) replaces this batch's own when given.
MM_HOT static void dice_forward(const float* x, int64_t rows, int64_t cols, const float* al, float eps, bool training, float* rm,
                                float* rv, float momentum, float* y, float* sm, float* sr, float* sp, const double* moments) {
  const double count = moments ? moments[2 * cols] : (double)rows;
  for (int64_t c = 0; c < cols; c++) {
    if (training && count > 1) {
      double s = 0, s2 = 0;
      if (moments) {
        s = moments[c];
        s2 = moments[cols + c];
      } else {
        for (int64_t r = 0; r < rows; r++) { double v = x[r * cols + c]; s += v; s2 += v * v; }
      }
      double mean = s / count, var = std::max(0.0, s2 / count - mean * mean);
      sm[c] = (float)mean;
      sr[c] = (float)(1.0 / std::sqrt(var + eps));
      rm[c] = (1 - momentum) * rm[c] + momentum * (float)mean;
      rv[c] = (1 - momentum) * rv[c] + momentum * (float)(var * count / (count - 1));
    } else {
      sm[c] = rm[c];
      sr[c] = 1.f / std::sqrt(rv[c] + eps);
    }
  }
#pragma omp parallel for schedule(static) if (par(rows * cols * 4))
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      const int64_t i = r * cols + c;
      // fexp, not std::exp: it vectorises, and Dice runs on every attention pair at serving time.
      const float p = 1.f / (1.f + fexp(-(x[i] - sm[c]) * sr[c]));
      sp[i] = p;
      y[i] = x[i] * (al[c] + p * (1.f - al[c]));
    }
}

// Column c's sums for Dice's backward pass: of the gradient reaching the standardised input,
// of that times the standardised input, and alpha's gradient.
MM_HOT static void dice_column_sums(const float* x, int64_t rows, int64_t cols, int64_t c, float a, float mean, float rstd, const float* sp,
                                    const float* gy, double& sumG, double& sumGXn, double& gAlpha) {
  sumG = 0, sumGXn = 0, gAlpha = 0;
  for (int64_t r = 0; r < rows; r++) {
    const int64_t i = r * cols + c;
    const float p = sp[i], xv = x[i], g = gy[i];
    const float gxn = g * xv * (1.f - a) * p * (1.f - p);
    sumG += gxn;
    sumGXn += gxn * (xv - mean) * rstd;
    gAlpha += g * xv * (1.f - p);
  }
}

// Dice backward, through the batch statistics when `training` (and the batch has > 1 rows).
// `sums` = [sumG(cols), sumGXn(cols)] over `count` rows (summed over ranks) replaces this
// batch's own when given.
MM_HOT static void dice_backward(const float* x, int64_t rows, int64_t cols, const float* al, const float* sm, const float* sr,
                                 const float* sp, const float* gy, float* gx, float* ga, bool training, const double* sums, double count) {
  for (int64_t c = 0; c < cols; c++) {
    const float a = al[c], mean = sm[c], rstd = sr[c];
    double sumG, sumGXn, gAlpha;
    dice_column_sums(x, rows, cols, c, a, mean, rstd, sp, gy, sumG, sumGXn, gAlpha);
    if (ga) ga[c] += (float)gAlpha;
    if (!gx) continue;
    if (sums) {
      sumG = sums[c];
      sumGXn = sums[cols + c];
    }
    const float mG = (float)(sumG / count), mGX = (float)(sumGXn / count);
    for (int64_t r = 0; r < rows; r++) {
      const int64_t i = r * cols + c;
      const float p = sp[i], xv = x[i], g = gy[i];
      const float gxn = g * xv * (1.f - a) * p * (1.f - p);
      const float xn = (xv - mean) * rstd;
      const float through = training ? rstd * (gxn - mG - xn * mGX) : rstd * gxn;
      gx[i] += g * (a + p * (1.f - a)) + through;
    }
  }
}

// diceMoments(x, rows, cols, out: Float64Array[2 cols + 1]): see dice_moments.
static Napi::Value diceMoments(const Napi::CallbackInfo& info) {
  Args a(info, "diceMoments");
  F32 x = a.f32("x");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F64 out = a.f64_or_null("out");
  a.need(x, rows * cols, "x");
  if (!out.p) a.type_error("out must be a Float64Array");
  a.need(out, 2 * cols + 1, "out");
  if (!a.ok()) return a.done();
  dice_moments(x.p, rows, cols, out.p);
  return a.done();
}

// dice(x, rows, cols, alpha[cols], eps, training, runMean, runVar, momentum, y, saveMean,
// saveRstd, saveP, moments|null): Dice activation (DIN paper): p = sigmoid((x - mean) /
// sqrt(var + eps)), y = p * x + (1 - p) * alpha * x; batch statistics in training (running ones
// updated; `moments` from diceMoments, summed over ranks, replace this batch's), running
// statistics otherwise.
static Napi::Value dice(const Napi::CallbackInfo& info) {
  Args a(info, "dice");
  F32 x = a.f32("x");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F32 al = a.f32("alpha");
  const float eps = (float)a.number("eps");
  const bool training = a.flag("training");
  F32 rm = a.f32("runMean"), rv = a.f32("runVar");
  const float momentum = (float)a.number("momentum");
  F32 y = a.f32("y"), sm = a.f32("saveMean"), sr = a.f32("saveRstd"), sp = a.f32("saveP");
  F64 moments = a.f64_or_null("moments");
  a.need(x, rows * cols, "x");
  a.need(al, cols, "alpha");
  a.need(rm, cols, "runMean");
  a.need(rv, cols, "runVar");
  a.need(y, rows * cols, "y");
  a.need(sm, cols, "saveMean");
  a.need(sr, cols, "saveRstd");
  a.need(sp, rows * cols, "saveP");
  if (moments.p) a.need(moments, 2 * cols + 1, "moments");
  if (!a.ok()) return a.done();
  dice_forward(x.p, rows, cols, al.p, eps, training, rm.p, rv.p, momentum, y.p, sm.p, sr.p, sp.p, moments.p);
  return a.done();
}

// The arrays both Dice backward entries read: the input, alpha, what the forward pass saved, gy.
static void need_dice_backward_inputs(Args& a, const F32& x, int64_t rows, int64_t cols, const F32& al, const F32& sm, const F32& sr, const F32& sp, const F32& gy) {
  a.need(x, rows * cols, "x");
  a.need(al, cols, "alpha");
  a.need(sm, cols, "saveMean");
  a.need(sr, cols, "saveRstd");
  a.need(sp, rows * cols, "saveP");
  a.need(gy, rows * cols, "gy");
}

// diceBackwardSums(x, rows, cols, alpha, saveMean, saveRstd, saveP, gy, out: Float64Array[2 cols]):
// this batch's [sumG, sumGXn] per column, for a data-parallel run to sum over ranks.
static Napi::Value diceBackwardSums(const Napi::CallbackInfo& info) {
  Args a(info, "diceBackwardSums");
  F32 x = a.f32("x");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F32 al = a.f32("alpha"), sm = a.f32("saveMean"), sr = a.f32("saveRstd"), sp = a.f32("saveP"), gy = a.f32("gy");
  F64 out = a.f64_or_null("out");
  need_dice_backward_inputs(a, x, rows, cols, al, sm, sr, sp, gy);
  if (!out.p) a.type_error("out must be a Float64Array");
  a.need(out, 2 * cols, "out");
  if (!a.ok()) return a.done();
  for (int64_t c = 0; c < cols; c++) {
    double gAlpha;
    dice_column_sums(x.p, rows, cols, c, al.p[c], sm.p[c], sr.p[c], sp.p, gy.p, out.p[c], out.p[cols + c], gAlpha);
  }
  return a.done();
}

// diceBackward(x, rows, cols, alpha, saveMean, saveRstd, saveP, gy, gx|null, galpha|null,
// training, sums|null, count): through the batch statistics when training; `sums` (from
// diceBackwardSums, summed over ranks) over `count` rows replace this batch's own.
static Napi::Value diceBackward(const Napi::CallbackInfo& info) {
  Args a(info, "diceBackward");
  F32 x = a.f32("x");
  const int64_t rows = a.size("rows"), cols = a.size("cols");
  F32 al = a.f32("alpha"), sm = a.f32("saveMean"), sr = a.f32("saveRstd"), sp = a.f32("saveP"), gy = a.f32("gy");
  F32 gx = a.f32_or_null("gx"), ga = a.f32_or_null("galpha");
  const bool trainingFlag = a.flag("training");
  F64 sums = a.f64_or_null("sums");
  const double count = sums.p ? a.number("count") : (double)rows;
  const bool training = trainingFlag && count > 1;
  need_dice_backward_inputs(a, x, rows, cols, al, sm, sr, sp, gy);
  if (gx.p) a.need(gx, rows * cols, "gx");
  if (ga.p) a.need(ga, cols, "galpha");
  if (sums.p) a.need(sums, 2 * cols, "sums");
  if (!a.ok()) return a.done();
  dice_backward(x.p, rows, cols, al.p, sm.p, sr.p, sp.p, gy.p, gx.p, ga.p, training, sums.p, count);
  return a.done();
}

void init_elementwise(Napi::Env env, Napi::Object exports) {
  MM_EXPORT(unary);
  MM_EXPORT(unaryBackward);
  MM_EXPORT(binary);
  MM_EXPORT(binaryBackward);
  MM_EXPORT(stridedCopy);
  MM_EXPORT(axpy);
  MM_EXPORT(scaleShift);
  MM_EXPORT(biasActivation);
  MM_EXPORT(activationBackward);
  MM_EXPORT(columnSums);
  MM_EXPORT(prelu);
  MM_EXPORT(preluBackward);
  MM_EXPORT(diceMoments);
  MM_EXPORT(dice);
  MM_EXPORT(diceBackwardSums);
  MM_EXPORT(diceBackward);
}

}  // namespace mm
