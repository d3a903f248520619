// The op codes the kernels take from JS, each table written once: an X-macro list turned into
// the C++ enum below, and exported by the addon as `codes` (addon.cc), which is where the TS ops
// read their numbers (src/engine/ops/codes.ts). Neither side keeps a copy of the other's.
#pragma once

// X(enumerator, JS name, code)
#define MM_ACTIVATIONS(X)          \
  X(ACT_NONE, "none", 0)           \
  X(ACT_RELU, "relu", 1)           \
  X(ACT_SIGMOID, "sigmoid", 2)     \
  X(ACT_TANH, "tanh", 3)           \
  X(ACT_PRELU, "prelu", 4)

#define MM_UNARY_OPS(X)            \
  X(SIGMOID, "sigmoid", 0)         \
  X(RELU, "relu", 1)               \
  X(TANH, "tanh", 2)               \
  X(EXP, "exp", 3)                 \
  X(LOG, "log", 4)                 \
  X(NEG, "neg", 5)                 \
  X(SQRT, "sqrt", 6)               \
  X(SQUARE, "square", 7)

#define MM_BINARY_OPS(X)           \
  X(ADD, "add", 0)                 \
  X(SUB, "sub", 1)                 \
  X(MUL, "mul", 2)                 \
  X(DIV, "div", 3)

#define MM_ENUMERATOR(e, name, code) e = code,
#define MM_COUNT(e, name, code) +1

namespace mm {

// Activations of the dense kernels: biasActivation / activationBackward take none..tanh, the
// fused DIN kernels (biasActivationEx / activationBackwardEx) also PReLU.
enum Activation { MM_ACTIVATIONS(MM_ENUMERATOR) };
constexpr int kActivations = 0 MM_ACTIVATIONS(MM_COUNT);

// Pointwise maps of unary / unaryBackward.
enum Unary { MM_UNARY_OPS(MM_ENUMERATOR) };
constexpr int kUnaryOps = 0 MM_UNARY_OPS(MM_COUNT);

// Broadcasting arithmetic of binary / binaryBackward.
enum Binary { MM_BINARY_OPS(MM_ENUMERATOR) };
constexpr int kBinaryOps = 0 MM_BINARY_OPS(MM_COUNT);

}  // namespace mm
