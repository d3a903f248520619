// Elementwise kernels: unary maps and their gradients, broadcasting binary ops, strided copies
// (transpose, slice, concat), bias + activation, PReLU and Dice. Backward kernels accumulate
// into the gradient buffer (gx += ...), so the tape never needs a temporary plus an add.
#include "common.h"
#include <omp.h>
#include <cmath>
#include <cstring>
#include <vector>

namespace mm {

enum Unary { SIGMOID = 0, RELU = 1, TANH = 2, EXP = 3, LOG = 4, NEG = 5, SQRT = 6, SQUARE = 7, IDENTITY = 8 };

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
static void unary_loop(const float* __restrict x, float* __restrict y, int64_t n) {
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

// unary(op, x, y): y = op(x); y may be x.
static Napi::Value unary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int op = (int)int64(info, 0);
  F32 x, y;
  if (!f32(info, 1, x, "x") || !f32(info, 2, y, "y") || !need(env, y.n, x.n, "y")) return env.Undefined();
  unary_apply(op, x.p, y.p, (int64_t)x.n);
  return env.Undefined();
}

// unaryBackward(op, x, y, gy, gx): gx += op'(x) * gy.
static Napi::Value unaryBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int op = (int)int64(info, 0);
  F32 x, y, gy, gx;
  if (!f32(info, 1, x, "x") || !f32(info, 2, y, "y") || !f32(info, 3, gy, "gy") || !f32(info, 4, gx, "gx"))
    return env.Undefined();
  int64_t n = (int64_t)gx.n;
  if (!need(env, x.n, n, "x") || !need(env, y.n, n, "y") || !need(env, gy.n, n, "gy")) return env.Undefined();
#pragma omp parallel for schedule(static) if (par(n * 4))
  for (int64_t i = 0; i < n; i++) gx.p[i] += unary_grad(op, x.p[i], y.p[i]) * gy.p[i];
  return env.Undefined();
}

enum Binary { ADD = 0, SUB = 1, MUL = 2, DIV = 3 };

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
  bool read(const Napi::CallbackInfo& info, size_t i) {
    I32 s, a, b;
    if (!i32(info, i, s, "shape") || !i32(info, i + 1, a, "aStrides") || !i32(info, i + 2, b, "bStrides")) return false;
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

// binary(op, a, b, out, shape, aStrides, bStrides): out (contiguous, shape) = a op b.
static Napi::Value binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int op = (int)int64(info, 0);
  F32 a, b, out;
  Layout L;
  if (!f32(info, 1, a, "a") || !f32(info, 2, b, "b") || !f32(info, 3, out, "out") || !L.read(info, 4))
    return env.Undefined();
  if (!need(env, out.n, L.rows * L.cols, "out") || !need(env, a.n, L.extent(L.sa), "a") ||
      !need(env, b.n, L.extent(L.sb), "b"))
    return env.Undefined();
  const int64_t cols = L.cols, ca = L.sa.back(), cb = L.sb.back();
#pragma omp parallel for schedule(static) if (par(L.rows * cols))
  for (int64_t r = 0; r < L.rows; r++) {
    const float* pa = a.p + L.offset(r, L.sa);
    const float* pb = b.p + L.offset(r, L.sb);
    float* po = out.p + r * cols;
    if (ca == 1 && cb == 1) for (int64_t c = 0; c < cols; c++) po[c] = apply_binary(op, pa[c], pb[c]);
    else if (ca == 1 && cb == 0) { const float v = pb[0]; for (int64_t c = 0; c < cols; c++) po[c] = apply_binary(op, pa[c], v); }
    else if (ca == 0 && cb == 1) { const float v = pa[0]; for (int64_t c = 0; c < cols; c++) po[c] = apply_binary(op, v, pb[c]); }
    else for (int64_t c = 0; c < cols; c++) po[c] = apply_binary(op, pa[c * ca], pb[c * cb]);
  }
  return env.Undefined();
}

// binaryBackward(op, a, b, gy, ga|null, gb|null, shape, aStrides, bStrides): accumulates the
// gradient of each operand, summing over its broadcast axes.
static Napi::Value binaryBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int op = (int)int64(info, 0);
  F32 a, b, gy, ga, gb;
  Layout L;
  if (!f32(info, 1, a, "a") || !f32(info, 2, b, "b") || !f32(info, 3, gy, "gy") || !f32(info, 4, ga, "ga", true) ||
      !f32(info, 5, gb, "gb", true) || !L.read(info, 6))
    return env.Undefined();
  const int64_t cols = L.cols, ca = L.sa.back(), cb = L.sb.back();
  auto accumulate = [&](bool forA, float* g, const std::vector<int64_t>& st, int64_t cs) {
    auto row = [&](int64_t r) {
      const float* pa = a.p + L.offset(r, L.sa);
      const float* pb = b.p + L.offset(r, L.sb);
      const float* pg = gy.p + r * cols;
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
  };
  if (ga.p) { if (!need(env, ga.n, L.extent(L.sa), "ga")) return env.Undefined(); accumulate(true, ga.p, L.sa, ca); }
  if (gb.p) { if (!need(env, gb.n, L.extent(L.sb), "gb")) return env.Undefined(); accumulate(false, gb.p, L.sb, cb); }
  return env.Undefined();
}

// stridedCopy(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape, accumulate):
// dst[view] (+)= src[view] over an N-d index space; serves transpose, slice, concat, and their
// gradients.
static Napi::Value stridedCopy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 src, dst;
  I32 ss, ds, sh;
  if (!f32(info, 0, src, "src") || !i32(info, 2, ss, "srcStrides") || !f32(info, 3, dst, "dst") ||
      !i32(info, 5, ds, "dstStrides") || !i32(info, 6, sh, "shape"))
    return env.Undefined();
  const int64_t so = int64(info, 1), dof = int64(info, 4);
  const bool acc = boolean(info, 7);
  const int nd = (int)sh.n;
  if (nd == 0) { if (acc) dst.p[dof] += src.p[so]; else dst.p[dof] = src.p[so]; return env.Undefined(); }
  int64_t rows = 1, srcExt = so + 1, dstExt = dof + 1;
  for (int d = 0; d < nd; d++) {
    if (sh.p[d] == 0) return env.Undefined();
    srcExt += (int64_t)(sh.p[d] - 1) * ss.p[d];
    dstExt += (int64_t)(sh.p[d] - 1) * ds.p[d];
    if (d < nd - 1) rows *= sh.p[d];
  }
  if (!need(env, src.n, srcExt, "src") || !need(env, dst.n, dstExt, "dst")) return env.Undefined();
  const int64_t cols = sh.p[nd - 1], sc = ss.p[nd - 1], dc = ds.p[nd - 1];
#pragma omp parallel for schedule(static) if (par(rows * cols))
  for (int64_t r = 0; r < rows; r++) {
    int64_t rem = r, sOff = so, dOff = dof;
    for (int d = nd - 2; d >= 0; d--) {
      int64_t k = rem % sh.p[d];
      rem /= sh.p[d];
      sOff += k * ss.p[d];
      dOff += k * ds.p[d];
    }
    const float* s = src.p + sOff;
    float* t = dst.p + dOff;
    if (sc == 1 && dc == 1) {
      if (acc) for (int64_t c = 0; c < cols; c++) t[c] += s[c];
      else std::memcpy(t, s, sizeof(float) * cols);
    } else if (acc) for (int64_t c = 0; c < cols; c++) t[c * dc] += s[c * sc];
    else for (int64_t c = 0; c < cols; c++) t[c * dc] = s[c * sc];
  }
  return env.Undefined();
}

// axpy(alpha, x, y): y += alpha * x.
static Napi::Value axpy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  float alpha = (float)num(info, 0);
  F32 x, y;
  if (!f32(info, 1, x, "x") || !f32(info, 2, y, "y") || !need(env, x.n, y.n, "x")) return env.Undefined();
  int64_t n = (int64_t)y.n;
#pragma omp parallel for simd schedule(static) if (par(n))
  for (int64_t i = 0; i < n; i++) y.p[i] += alpha * x.p[i];
  return env.Undefined();
}

// scaleShift(x, alpha, beta, y): y = alpha * x + beta.
static Napi::Value scaleShift(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, y;
  if (!f32(info, 0, x, "x") || !f32(info, 3, y, "y") || !need(env, x.n, y.n, "x")) return env.Undefined();
  float alpha = (float)num(info, 1), beta = (float)num(info, 2);
  int64_t n = (int64_t)y.n;
#pragma omp parallel for simd schedule(static) if (par(n))
  for (int64_t i = 0; i < n; i++) y.p[i] = alpha * x.p[i] + beta;
  return env.Undefined();
}

enum Act { ACT_NONE = 0, ACT_RELU = 1, ACT_SIGMOID = 2, ACT_TANH = 3 };

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
static void bias_activation_rows(float* y, const float* bias, int64_t rows, int64_t cols) {
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
void column_sums_acc(const float* g, int64_t rows, int64_t cols, float* out) {
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
static void activation_backward_range(const float* __restrict y, const float* __restrict gy, float* __restrict gz,
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

// biasActivation(y, bias|null, rows, cols, act): y = act(y + bias) in place.
static Napi::Value biasActivation(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 y, b;
  if (!f32(info, 0, y, "y") || !f32(info, 1, b, "bias", true)) return env.Undefined();
  int64_t rows = int64(info, 2), cols = int64(info, 3);
  int act = (int)int64(info, 4);
  if (!need(env, y.n, rows * cols, "y") || (b.p && !need(env, b.n, cols, "bias"))) return env.Undefined();
  bias_activation(y.p, b.p, rows, cols, act);
  return env.Undefined();
}

// activationBackward(y, gy, gz, rows, cols, act, gbias|null): gz = gy * act'(y) (overwrites),
// gbias += column sums of gz.
static Napi::Value activationBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 y, gy, gz, gb;
  if (!f32(info, 0, y, "y") || !f32(info, 1, gy, "gy") || !f32(info, 2, gz, "gz") || !f32(info, 6, gb, "gbias", true))
    return env.Undefined();
  int64_t rows = int64(info, 3), cols = int64(info, 4);
  int act = (int)int64(info, 5);
  if (!need(env, y.n, rows * cols, "y") || !need(env, gy.n, rows * cols, "gy") || !need(env, gz.n, rows * cols, "gz"))
    return env.Undefined();
  activation_backward(y.p, gy.p, gz.p, rows * cols, act);
  if (gb.p) column_sums_acc(gz.p, rows, cols, gb.p);
  return env.Undefined();
}

// columnSums(x, rows, cols, out): out += column sums.
static Napi::Value columnSums(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, out;
  if (!f32(info, 0, x, "x") || !f32(info, 3, out, "out")) return env.Undefined();
  int64_t rows = int64(info, 1), cols = int64(info, 2);
  if (!need(env, x.n, rows * cols, "x") || !need(env, out.n, cols, "out")) return env.Undefined();
  column_sums_acc(x.p, rows, cols, out.p);
  return env.Undefined();
}

// prelu(x, alpha, rows, cols, y): alpha has 1 or cols entries.
static Napi::Value prelu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, al, y;
  if (!f32(info, 0, x, "x") || !f32(info, 1, al, "alpha") || !f32(info, 4, y, "y")) return env.Undefined();
  int64_t rows = int64(info, 2), cols = int64(info, 3);
  const int64_t as = al.n == 1 ? 0 : 1;
  if (!need(env, x.n, rows * cols, "x") || !need(env, y.n, rows * cols, "y") || (as && !need(env, al.n, cols, "alpha")))
    return env.Undefined();
#pragma omp parallel for schedule(static) if (par(rows * cols))
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      const float v = x.p[r * cols + c];
      y.p[r * cols + c] = v > 0.f ? v : al.p[c * as] * v;
    }
  return env.Undefined();
}

// preluBackward(x, alpha, gy, rows, cols, gx|null, galpha|null)
static Napi::Value preluBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, al, gy, gx, ga;
  if (!f32(info, 0, x, "x") || !f32(info, 1, al, "alpha") || !f32(info, 2, gy, "gy") || !f32(info, 5, gx, "gx", true) ||
      !f32(info, 6, ga, "galpha", true))
    return env.Undefined();
  int64_t rows = int64(info, 3), cols = int64(info, 4);
  const int64_t as = al.n == 1 ? 0 : 1;
  if (gx.p) {
#pragma omp parallel for schedule(static) if (par(rows * cols))
    for (int64_t r = 0; r < rows; r++)
      for (int64_t c = 0; c < cols; c++) {
        const int64_t i = r * cols + c;
        gx.p[i] += x.p[i] > 0.f ? gy.p[i] : al.p[c * as] * gy.p[i];
      }
  }
  if (ga.p) {
    for (int64_t r = 0; r < rows; r++)
      for (int64_t c = 0; c < cols; c++) {
        const int64_t i = r * cols + c;
        if (x.p[i] <= 0.f) ga.p[c * as] += x.p[i] * gy.p[i];
      }
  }
  return env.Undefined();
}

// dice(x, rows, cols, alpha[cols], eps, training, runMean, runVar, momentum, y, saveMean,
// saveRstd, saveP): Dice activation (DIN paper): p = sigmoid((x - mean) / sqrt(var + eps)),
// y = p * x + (1 - p) * alpha * x; batch statistics in training (running ones updated), running
// statistics otherwise.
static Napi::Value dice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, al, rm, rv, y, sm, sr, sp;
  if (!f32(info, 0, x, "x") || !f32(info, 3, al, "alpha") || !f32(info, 6, rm, "runMean") ||
      !f32(info, 7, rv, "runVar") || !f32(info, 9, y, "y") || !f32(info, 10, sm, "saveMean") ||
      !f32(info, 11, sr, "saveRstd") || !f32(info, 12, sp, "saveP"))
    return env.Undefined();
  const int64_t rows = int64(info, 1), cols = int64(info, 2);
  const float eps = (float)num(info, 4), momentum = (float)num(info, 8);
  const bool training = boolean(info, 5);
  if (!need(env, x.n, rows * cols, "x") || !need(env, al.n, cols, "alpha") || !need(env, sp.n, rows * cols, "saveP"))
    return env.Undefined();
  for (int64_t c = 0; c < cols; c++) {
    if (training && rows > 1) {
      double s = 0, s2 = 0;
      for (int64_t r = 0; r < rows; r++) { double v = x.p[r * cols + c]; s += v; s2 += v * v; }
      double mean = s / rows, var = std::max(0.0, s2 / rows - mean * mean);
      sm.p[c] = (float)mean;
      sr.p[c] = (float)(1.0 / std::sqrt(var + eps));
      rm.p[c] = (1 - momentum) * rm.p[c] + momentum * (float)mean;
      rv.p[c] = (1 - momentum) * rv.p[c] + momentum * (float)(var * rows / (rows - 1));
    } else {
      sm.p[c] = rm.p[c];
      sr.p[c] = 1.f / std::sqrt(rv.p[c] + eps);
    }
  }
#pragma omp parallel for schedule(static) if (par(rows * cols * 4))
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < cols; c++) {
      const int64_t i = r * cols + c;
      // fexp, not std::exp: it vectorises, and Dice runs on every attention pair at serving time.
      const float p = 1.f / (1.f + fexp(-(x.p[i] - sm.p[c]) * sr.p[c]));
      sp.p[i] = p;
      y.p[i] = x.p[i] * (al.p[c] + p * (1.f - al.p[c]));
    }
  return env.Undefined();
}

// diceBackward(x, rows, cols, alpha, saveMean, saveRstd, saveP, gy, gx|null, galpha|null,
// training): through the batch statistics when training.
static Napi::Value diceBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  F32 x, al, sm, sr, sp, gy, gx, ga;
  if (!f32(info, 0, x, "x") || !f32(info, 3, al, "alpha") || !f32(info, 4, sm, "saveMean") ||
      !f32(info, 5, sr, "saveRstd") || !f32(info, 6, sp, "saveP") || !f32(info, 7, gy, "gy") ||
      !f32(info, 8, gx, "gx", true) || !f32(info, 9, ga, "galpha", true))
    return env.Undefined();
  const int64_t rows = int64(info, 1), cols = int64(info, 2);
  const bool training = boolean(info, 10) && rows > 1;
  for (int64_t c = 0; c < cols; c++) {
    const float a = al.p[c], mean = sm.p[c], rstd = sr.p[c];
    double sumG = 0, sumGXn = 0, gAlpha = 0;
    for (int64_t r = 0; r < rows; r++) {
      const int64_t i = r * cols + c;
      const float p = sp.p[i], xv = x.p[i], g = gy.p[i];
      const float gxn = g * xv * (1.f - a) * p * (1.f - p);
      sumG += gxn;
      sumGXn += gxn * (xv - mean) * rstd;
      gAlpha += g * xv * (1.f - p);
    }
    if (ga.p) ga.p[c] += (float)gAlpha;
    if (!gx.p) continue;
    const float mG = (float)(sumG / rows), mGX = (float)(sumGXn / rows);
    for (int64_t r = 0; r < rows; r++) {
      const int64_t i = r * cols + c;
      const float p = sp.p[i], xv = x.p[i], g = gy.p[i];
      const float gxn = g * xv * (1.f - a) * p * (1.f - p);
      const float xn = (xv - mean) * rstd;
      const float through = training ? rstd * (gxn - mG - xn * mGX) : rstd * gxn;
      gx.p[i] += g * (a + p * (1.f - a)) + through;
    }
  }
  return env.Undefined();
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
  MM_EXPORT(dice);
  MM_EXPORT(diceBackward);
}

}  // namespace mm
