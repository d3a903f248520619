/**
 * The op codes the kernels take, read from the addon: native/codes.h is the one table of each
 * (activations, unary maps, binary arithmetic) and the addon exports it as `codes`, so the TS
 * side keeps no copy of the numbers. What it does list is the names the ops use, checked against
 * the addon's tables when this module loads: a stale build fails here, by name, not in a kernel.
 */
import { EngineError } from '../errors.js';
import { native } from '../native.js';

export const KERNEL_ACTIVATIONS = ['none', 'relu', 'sigmoid', 'tanh', 'prelu'] as const;
export const UNARY_OPS = ['sigmoid', 'relu', 'tanh', 'exp', 'log', 'neg', 'sqrt', 'square'] as const;
export const BINARY_OPS = ['add', 'sub', 'mul', 'div'] as const;

export type KernelActivation = (typeof KERNEL_ACTIVATIONS)[number];
export type UnaryOp = (typeof UNARY_OPS)[number];
export type BinaryOp = (typeof BINARY_OPS)[number];

function table<N extends string>(family: keyof typeof native.codes, names: readonly N[]): Readonly<Record<N, number>> {
  const codes = native.codes?.[family];
  if (!codes) throw new EngineError(`the native addon has no '${family}' code table (an old build?): rebuild it with \`npm run install\``);
  const missing = names.filter((n) => typeof codes[n] !== 'number');
  const extra = Object.keys(codes).filter((n) => !(names as readonly string[]).includes(n));
  if (missing.length || extra.length)
    throw new EngineError(`the native addon's ${family} codes (${Object.keys(codes).join(', ')}) do not match the ops' (${names.join(', ')}): rebuild it with \`npm run install\``);
  return Object.freeze(Object.fromEntries(names.map((n) => [n, codes[n]]))) as Record<N, number>;
}

/** Activation codes of biasActivation / activationBackward (none..tanh) and the fused DIN kernels (also prelu). */
export const ACTIVATION_CODE = table('activation', KERNEL_ACTIVATIONS);
export const UNARY_CODE = table('unary', UNARY_OPS);
export const BINARY_CODE = table('binary', BINARY_OPS);
