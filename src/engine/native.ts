/**
 * The native kernels (native/*.cc, built by node-gyp at install). Typed arrays are passed by
 * reference: the addon reads and writes the same memory, no copies per call.
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineError } from './errors.js';

export interface BlasInfo {
  compiled: 'openblas' | 'builtin';
  active: 'openblas' | 'builtin';
  config: string;
  threads: number;
  /** OpenMP threads of the calling thread (what OpenBLAS sizes its GEMMs by there); equals `threads` in every thread. */
  callerOmpThreads: number;
}

type F32 = Float32Array;
type I32 = Int32Array;

export interface NativeKernels {
  /** The op codes of native/codes.h by family, name -> code (read through ops/codes.ts). */
  codes: Readonly<Record<'activation' | 'unary' | 'binary', Readonly<Record<string, number>>>>;
  /** Keep freed memory mapped for reuse (training's setting, made at load) or give large blocks back at once (a service). */
  keepFreedMemory(keep: boolean): void;
  /** Returns freed heap memory to the OS (malloc_trim); true when some was released. */
  trimFreedMemory(): boolean;

  gemm(ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number, a: F32, lda: number, b: F32, ldb: number, beta: number, c: F32, ldc: number): void;
  gemmBatched(ta: boolean, tb: boolean, batch: number, m: number, n: number, k: number, alpha: number, a: F32, strideA: number, b: F32, strideB: number, beta: number, c: F32, strideC: number): void;
  blasInfo(): BlasInfo;
  setBlasBackend(which: 'openblas' | 'builtin'): boolean;
  /** Seconds per call of the BLAS sgemm on [m,k] x [k,n], timed in C (benchmark baseline). */
  benchRawGemm(m: number, n: number, k: number, reps: number): number;

  unary(op: number, x: F32, y: F32): void;
  unaryBackward(op: number, x: F32, y: F32, gy: F32, gx: F32): void;
  binary(op: number, a: F32, b: F32, out: F32, shape: I32, aStrides: I32, bStrides: I32): void;
  binaryBackward(op: number, a: F32, b: F32, gy: F32, ga: F32 | null, gb: F32 | null, shape: I32, aStrides: I32, bStrides: I32): void;
  stridedCopy(src: F32, srcOffset: number, srcStrides: I32, dst: F32, dstOffset: number, dstStrides: I32, shape: I32, accumulate: boolean): void;
  axpy(alpha: number, x: F32, y: F32): void;
  scaleShift(x: F32, alpha: number, beta: number, y: F32): void;
  biasActivation(y: F32, bias: F32 | null, rows: number, cols: number, act: number): void;
  activationBackward(y: F32, gy: F32, gz: F32, rows: number, cols: number, act: number, gbias: F32 | null): void;
  columnSums(x: F32, rows: number, cols: number, out: F32): void;
  prelu(x: F32, alpha: F32, rows: number, cols: number, y: F32): void;
  preluBackward(x: F32, alpha: F32, gy: F32, rows: number, cols: number, gx: F32 | null, galpha: F32 | null): void;
  /** out = [column sums (cols), sums of squares (cols), rows] of x, in double: Dice's batch statistics, summed over ranks in a data-parallel run. */
  diceMoments(x: F32, rows: number, cols: number, out: Float64Array): void;
  /** `moments` (diceMoments' layout, summed over ranks) replace the batch's own statistics when given. */
  dice(x: F32, rows: number, cols: number, alpha: F32, eps: number, training: boolean, runMean: F32, runVar: F32, momentum: number, y: F32, saveMean: F32, saveRstd: F32, saveP: F32, moments: Float64Array | null): void;
  /** out = this batch's [sumG (cols), sumGXn (cols)], the reductions of Dice's backward pass. */
  diceBackwardSums(x: F32, rows: number, cols: number, alpha: F32, saveMean: F32, saveRstd: F32, saveP: F32, gy: F32, out: Float64Array): void;
  /** `sums` (diceBackwardSums' layout, summed over ranks) over `count` rows replace the batch's own when given. */
  diceBackward(x: F32, rows: number, cols: number, alpha: F32, saveMean: F32, saveRstd: F32, saveP: F32, gy: F32, gx: F32 | null, galpha: F32 | null, training: boolean, sums: Float64Array | null, count: number): void;

  sumAxis(x: F32, outer: number, n: number, inner: number, out: F32, accumulate: boolean): void;
  expandAxis(g: F32, outer: number, n: number, inner: number, gx: F32, scale: number): void;
  softmax(x: F32, rows: number, cols: number, mask: F32 | null, y: F32, log: boolean): void;
  softmaxBackward(y: F32, gy: F32, rows: number, cols: number, mask: F32 | null, gx: F32, log: boolean): void;
  layerNorm(x: F32, rows: number, cols: number, gamma: F32 | null, beta: F32 | null, eps: number, y: F32, mean: F32, rstd: F32): void;
  layerNormBackward(x: F32, rows: number, cols: number, gamma: F32 | null, mean: F32, rstd: F32, gy: F32, gx: F32 | null, ggamma: F32 | null, gbeta: F32 | null): void;
  l2Normalize(x: F32, rows: number, cols: number, eps: number, y: F32, norms: F32): void;
  l2NormalizeBackward(y: F32, norms: F32, gy: F32, rows: number, cols: number, eps: number, gx: F32): void;
  bceWithLogits(logits: F32, labels: F32, n: number, weights: F32 | null, grad: F32 | null): number;
  softmaxCrossEntropy(logits: F32, rows: number, cols: number, targets: I32, grad: F32 | null): number;

  gatherRows(table: F32, dim: number, ids: I32, out: F32): void;
  scatterAddRows(src: F32, dim: number, index: I32, out: F32): void;
  uniqueInverse(ids: I32, unique: I32, inverse: I32): number;

  adam(param: F32, grad: F32, m: F32, v: F32, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, decoupled: boolean, step: number): void;
  sgd(param: F32, grad: F32, momentumBuf: F32 | null, lr: number, momentum: number, weightDecay: number): void;
  sparseAdam(table: F32, m: F32, v: F32, dim: number, rows: I32, grads: F32, lr: number, beta1: number, beta2: number, eps: number, l2: number, step: number): void;
  sparseAdagrad(table: F32, acc: F32, dim: number, rows: I32, grads: F32, lr: number, eps: number, l2: number): void;

  dinCompact(mask: F32, batch: number, length: number, offsets: I32, pairs: I32): number;
  dinPairs(q: F32, keys: F32, batch: number, length: number, dim: number, offsets: I32, pairs: I32, x: F32): void;
  dinPairsBackward(q: F32, keys: F32, gx: F32, batch: number, length: number, dim: number, offsets: I32, pairs: I32, gq: F32 | null, gKeys: F32 | null): void;
  biasActivationEx(z: F32, rows: number, cols: number, bias: F32 | null, groupBias: F32 | null, offsets: I32 | null, groups: number, act: number, alpha: F32 | null, y: F32): void;
  activationBackwardEx(z: F32 | null, y: F32 | null, gy: F32, rows: number, cols: number, act: number, alpha: F32 | null, gz: F32, galpha: F32 | null, gbias: F32 | null): void;
  groupSums(x: F32, rows: number, cols: number, offsets: I32, groups: number, out: F32): void;
  dinScores(h: F32, hidden: number, wOut: F32, bOut: number, keys: F32, batch: number, length: number, dim: number, offsets: I32, pairs: I32, softmax: boolean, weights: F32, pooled: F32): void;
  dinAttentionShared(q: F32, keys: F32, batch: number, behaviours: number, dim: number, wa: F32, wk: F32, wp: F32, widths: I32, biases: F32, weights: F32, activation: number, dice: boolean, alphas: F32 | null, means: F32 | null, rstds: F32 | null, wOut: F32, bOut: number, softmax: boolean, scores: F32, pooled: F32): void;
  dinScoresBackward(h: F32, hidden: number, wOut: F32, weights: F32, keys: F32, batch: number, length: number, dim: number, offsets: I32, pairs: I32, softmax: boolean, gWeights: F32 | null, gPooled: F32 | null, gKeys: F32 | null, gh: F32, gwOut: F32 | null, gbOut: F32 | null): void;
  simTier(table: F32, rows: number, dim: number, target: I32, hist: I32, histLen: I32, batch: number, length: number, tiers: number, counts: F32, sims: F32 | null): void;
  symmetricInfoNCE(z1: F32, z2: F32, n: number, dim: number, queue: F32 | null, queueRows: number, invTau: number, g: F32, g2: F32 | null): number;

  fillUniform(out: F32, seed: number, counter: number, lo: number, hi: number): void;
  fillNormal(out: F32, seed: number, counter: number, mean: number, std: number): void;
  fillDropoutMask(out: F32, seed: number, counter: number, keep: number): void;
}

function locateAddon(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Source layout (src/engine) and compiled layout (dist/src/engine) both reach the package root.
  for (const up of ['../..', '../../..']) {
    const candidate = path.resolve(here, up, 'build', 'Release', 'mmctr_native.node');
    if (existsSync(candidate)) return candidate;
  }
  throw new EngineError(
    'the native kernels are not built (build/Release/mmctr_native.node is missing). In a clone: run `npm ci` (or `npm run install`) in the mmctr folder. An installed package: npm skipped its install script; install it again with `--allow-scripts=mmctr,hnswlib-node` (a tarball by its path; README: Install as a package). Building needs g++, make and python3.',
  );
}

/**
 * The OpenBLAS core to force, if any. OpenBLAS 0.3.21 (Debian 12) does not recognise AMD's
 * AVX-512 cores (Zen 4 and 5) and falls back to its AVX2 Haswell kernels, at half the GEMM
 * speed of its AVX-512 (SkylakeX) kernels on the same machine (measured on 2 Zen 5 cores: 250
 * vs 480 GFLOP/s). OpenBLAS reads OPENBLAS_CORETYPE once, when the addon loads it, so the choice
 * is made here; a value the user set is left alone, and Intel CPUs keep OpenBLAS's detection.
 */
export function preferredBlasCore(cpuinfo: string): string | null {
  const vendor = /^vendor_id\s*:\s*(\S+)/m.exec(cpuinfo)?.[1];
  const flags = new Set(/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1].trim().split(/\s+/) ?? []);
  const avx512 = ['avx512f', 'avx512cd', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f));
  return vendor === 'AuthenticAMD' && avx512 ? 'SkylakeX' : null;
}

function chooseBlasCore(): void {
  if (process.env.OPENBLAS_CORETYPE || process.platform !== 'linux') return;
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return;
  }
  const core = preferredBlasCore(cpuinfo);
  if (core) {
    process.env.OPENBLAS_CORETYPE = core;
    blasCoreChosen = core;
  }
}

/** The core this module forced through OPENBLAS_CORETYPE (null: OpenBLAS's own detection or the user's setting). */
export let blasCoreChosen: string | null = null;

/**
 * OpenMP threads that wait for work sleep instead of spinning, unless the user chose otherwise
 * (OMP_WAIT_POLICY or GOMP_SPINCOUNT). Spinning wins a little on an idle machine, but on a busy
 * one (a service beside other processes, two trainings at once, 2 cores) the spinning threads
 * steal the cores the working ones need: measured here with one competing process, a DIN step
 * took 340-450 ms spinning and 8-35 ms sleeping. libgomp reads the variable when the addon loads.
 */
function chooseWaitPolicy(): void {
  if (process.env.OMP_WAIT_POLICY || process.env.GOMP_SPINCOUNT) return;
  process.env.OMP_WAIT_POLICY = 'passive';
}

chooseBlasCore();
chooseWaitPolicy();
export const native: NativeKernels = createRequire(import.meta.url)(locateAddon()) as NativeKernels;
