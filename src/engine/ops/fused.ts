/**
 * Fused ops for the two hot paths that a composition of small ops serves badly: DIN target
 * attention (an MLP over every (target, behaviour) pair) and symmetric InfoNCE (a batch x batch
 * logit matrix normalised both ways). Each is one node on the tape.
 */
import { gradOf, record } from '../autograd.js';
import { ShapeError } from '../errors.js';
import { native } from '../native.js';
import { shapeString, Tensor } from '../tensor.js';
import { diceBackward, diceForward, type DiceSaved, type DiceStats } from './activation.js';
import { ACTIVATION_CODE } from './codes.js';
import { expectRank, output, scratch, uninitialized } from './common.js';

export type AttentionActivation = 'sigmoid' | 'relu' | 'tanh' | 'prelu' | 'dice';

export interface AttentionLayer {
  w: Tensor;
  b: Tensor;
}

/** The attention MLP of DIN: [q, k, q - k, q * k] -> H1 -> ...hidden -> 1. */
export interface DinAttentionUnit {
  /** [4D, H1], input rows in the order q, k, q - k, q * k. */
  w1: Tensor;
  b1: Tensor;
  /** Further layers, each [H_prev, H] with bias [H]. */
  hidden: readonly AttentionLayer[];
  /** [H_last, 1] (or [H_last]). */
  wOut: Tensor;
  /** [1]. */
  bOut: Tensor;
  /** PReLU / Dice slopes: one [H] tensor per activated layer (the first, then each hidden). */
  alphas?: readonly Tensor[];
  /** Dice running statistics, one per activated layer. */
  diceStats?: readonly DiceStats[];
}

export interface DinAttentionOptions {
  /** Activation of every hidden layer of the unit (default sigmoid, as in DIN's reference attention unit). */
  activation?: AttentionActivation;
  /** Normalise the scores with a softmax over each sample's unmasked behaviours (default false:
   * DIN's raw weights). */
  softmax?: boolean;
  /** Dice: batch statistics (training) or running ones. Default true. */
  training?: boolean;
  diceEps?: number;
  diceMomentum?: number;
  /**
   * Every sample has the same behaviours and mask (a ranking request: one user, many candidate
   * ads); keys may then be [1, L, D], one copy for all. Without gradients the whole unit runs in
   * one native call over the shared behaviours (sharedKeysAttention) instead of materialising
   * [k, q * k] for every pair.
   */
  sharedKeys?: boolean;
}

export interface DinAttentionResult {
  /** [B, L]: attention weight of each behaviour, 0 where masked. */
  weights: Tensor;
  /** [B, D]: sum over l of weights[b, l] * keys[b, l]. */
  pooled: Tensor;
}

interface LayerState {
  /** Pre-activation (with biases); the same buffer as y for ReLU, sigmoid and tanh. */
  z: Float32Array;
  y: Float32Array;
  dice?: DiceSaved;
}

/**
 * DIN target attention over masked behaviour sequences: q [B, D] (the target item), keys
 * [B, L, D] (the behaviours), mask [B * L] (1 valid, 0 padding; any non-zero value counts as
 * valid and does not scale the weight). Returns the attention weights
 * and the weighted sum of the keys; gradients reach q, keys and every parameter of the unit.
 *
 * The first layer is split by algebra: [q, k, q - k, q * k] W1 = q (Wq + Wd) + [k, q * k] [Wk - Wd; Wp],
 * so q's term is one [B, D] x [D, H1] product per sample instead of per pair. The per-pair part
 * runs as one tall GEMM over the unmasked pairs only: a masked pair has weight 0 and no gradient
 * whichever activation is used, so it is skipped (Dice's batch statistics therefore cover the
 * valid pairs only).
 */
export function dinAttention(q: Tensor, keys: Tensor, mask: Float32Array, unit: DinAttentionUnit, options: DinAttentionOptions = {}): DinAttentionResult {
  const op = 'dinAttention';
  expectRank(q, 2, op, 'q');
  expectRank(keys, 3, op, 'keys');
  const [B, D] = q.shape;
  const L = keys.shape[1];
  // Keys [1, L, D]: one sample's behaviours, every sample's (sharedKeys inference).
  if ((keys.shape[0] !== B && !(keys.shape[0] === 1 && options.sharedKeys)) || keys.shape[2] !== D) throw new ShapeError(`${op}: keys ${shapeString(keys.shape)} do not fit q ${shapeString(q.shape)}`);
  if (mask.length !== B * L) throw new ShapeError(`${op}: mask needs ${B * L} values, got ${mask.length}`);
  const activation = options.activation ?? 'sigmoid';
  const softmax = options.softmax ?? false;
  const training = options.training ?? true;
  const { w1, b1, hidden, wOut, bOut } = unit;
  expectRank(w1, 2, op, 'w1');
  if (w1.shape[0] !== 4 * D) throw new ShapeError(`${op}: w1 ${shapeString(w1.shape)} needs ${4 * D} rows for [q, k, q - k, q * k] of dim ${D}`);
  const weightsOf = [w1, ...hidden.map((l) => l.w)];
  const biasesOf = [b1, ...hidden.map((l) => l.b)];
  const widths = weightsOf.map((w) => w.shape[1]);
  weightsOf.forEach((w, i) => {
    expectRank(w, 2, op, i === 0 ? 'w1' : `hidden[${i - 1}].w`);
    if (i > 0 && w.shape[0] !== widths[i - 1]) throw new ShapeError(`${op}: hidden[${i - 1}].w ${shapeString(w.shape)} does not follow a layer of ${widths[i - 1]}`);
    if (biasesOf[i].size !== widths[i]) throw new ShapeError(`${op}: bias of layer ${i} needs ${widths[i]} values, got ${biasesOf[i].size}`);
  });
  const H = widths[widths.length - 1];
  if (wOut.size !== H) throw new ShapeError(`${op}: wOut ${shapeString(wOut.shape)} needs ${H} values`);
  if (bOut.size !== 1) throw new ShapeError(`${op}: bOut needs 1 value, got ${bOut.size}`);
  const alphas = unit.alphas ?? [];
  if (activation === 'prelu' || activation === 'dice') {
    if (alphas.length !== widths.length) throw new ShapeError(`${op}: ${activation} needs ${widths.length} alpha tensors (one per layer), got ${alphas.length}`);
    alphas.forEach((a, i) => {
      if (a.size !== widths[i]) throw new ShapeError(`${op}: alpha ${i} needs ${widths[i]} values, got ${a.size}`);
    });
  }
  const stats = unit.diceStats ?? [];
  if (activation === 'dice' && (stats.length !== widths.length || stats.some((s, i) => s.runningMean.length !== widths[i] || s.runningVar.length !== widths[i])))
    throw new ShapeError(`${op}: dice needs running statistics of ${JSON.stringify(widths)} values, one per layer`);
  const usedAlphas = activation === 'prelu' || activation === 'dice' ? alphas : [];
  const params = [...weightsOf, ...biasesOf, wOut, bOut, ...usedAlphas];

  const weights = output([B, L], [q, keys, ...params], uninitialized(B * L));
  const pooled = output([B, D], [q, keys, ...params], uninitialized(B * D));

  const offsets = new Int32Array(B + 1);
  const pairsAll = new Int32Array(B * L);
  const n = native.dinCompact(mask, B, L, offsets, pairsAll);
  const pairs = pairsAll.subarray(0, n);

  const H1 = widths[0];
  const { wc, wa } = splitFirstLayer(w1.data, D, H1);
  if (options.sharedKeys && !weights.requiresGrad && sameMaskEverySample(offsets, pairs, B, L)) {
    const layerStats = activation === 'dice' ? stats.map((s) => ({ mean: s.runningMean, rstd: s.runningVar.map((v) => 1 / Math.sqrt(v + (options.diceEps ?? 1e-8))) })) : null;
    sharedKeysAttention(q.data, keys.data, B, L, D, pairs.subarray(offsets[0], offsets[1]), wa, wc, widths, biasesOf, weightsOf, activation, usedAlphas, layerStats, wOut, bOut, softmax, weights.data, pooled.data);
    return { weights, pooled };
  }
  if (keys.shape[0] !== B) throw new ShapeError(`${op}: keys ${shapeString(keys.shape)} hold one sample's behaviours, which serve all ${B} only at inference (no gradient) with the same mask for every sample`);
  const qTerm = scratch.take(B * H1);
  native.gemm(false, false, B, H1, D, 1, q.data, D, wa, H1, 0, qTerm, H1);
  const x = scratch.take(n * 2 * D);
  native.dinPairs(q.data, keys.data, B, L, D, offsets, pairs, x);

  const layers: LayerState[] = [];
  let input = x;
  let inDim = 2 * D;
  for (let i = 0; i < widths.length; i++) {
    const width = widths[i];
    const z = scratch.take(n * width);
    native.gemm(false, false, n, width, inDim, 1, input, inDim, i === 0 ? wc : weightsOf[i].data, width, 0, z, width);
    const groupBias = i === 0 ? qTerm : null;
    const groupOffsets = i === 0 ? offsets : null;
    let state: LayerState;
    if (activation === 'relu' || activation === 'sigmoid' || activation === 'tanh') {
      native.biasActivationEx(z, n, width, biasesOf[i].data, groupBias, groupOffsets, B, ACTIVATION_CODE[activation], null, z);
      state = { z, y: z };
    } else if (activation === 'prelu') {
      const y = scratch.take(n * width);
      native.biasActivationEx(z, n, width, biasesOf[i].data, groupBias, groupOffsets, B, ACTIVATION_CODE.prelu, alphas[i].data, y);
      state = { z, y };
    } else {
      native.biasActivationEx(z, n, width, biasesOf[i].data, groupBias, groupOffsets, B, ACTIVATION_CODE.none, null, z);
      const y = scratch.take(n * width);
      const dice = diceForward(z, n, width, alphas[i].data, stats[i], training, options.diceEps ?? 1e-8, options.diceMomentum ?? 0.01, y, scratch.take(n * width));
      state = { z, y, dice };
    }
    layers.push(state);
    input = state.y;
    inDim = width;
  }
  native.dinScores(input, H, wOut.data, bOut.data[0], keys.data, B, L, D, offsets, pairs, softmax, weights.data, pooled.data);
  const release = (): void => {
    scratch.give(qTerm, x);
    for (const l of layers) scratch.give(l.z, l.y === l.z ? null : l.y, l.dice?.p);
  };

  if (!weights.requiresGrad) release();
  else {
    record(() => {
      const gWeights = weights.grad, gPooled = pooled.grad;
      if (!gWeights && !gPooled) {
        release();
        return;
      }
      const gKeys = keys.requiresGrad ? gradOf(keys) : null;
      const gq = q.requiresGrad ? gradOf(q) : null;
      let gh = scratch.take(n * H);
      native.dinScoresBackward(
        layers[layers.length - 1].y, H, wOut.data, weights.data, keys.data, B, L, D, offsets, pairs, softmax,
        gWeights, gPooled, gKeys, gh, wOut.requiresGrad ? gradOf(wOut) : null, bOut.requiresGrad ? gradOf(bOut) : null,
      );
      for (let i = widths.length - 1; i >= 0; i--) {
        const width = widths[i];
        const { z, y, dice } = layers[i];
        const gbias = i > 0 && biasesOf[i].requiresGrad ? gradOf(biasesOf[i]) : null;
        const galpha = usedAlphas[i]?.requiresGrad ? gradOf(usedAlphas[i]) : null;
        let gz: Float32Array;
        if (dice) {
          gz = scratch.take(n * width).fill(0);
          diceBackward(z, n, width, alphas[i].data, dice, training, gh, gz, galpha);
          if (gbias) native.columnSums(gz, n, width, gbias);
          scratch.give(gh);
        } else {
          native.activationBackwardEx(z, y, gh, n, width, ACTIVATION_CODE[activation as 'relu' | 'sigmoid' | 'tanh' | 'prelu'], activation === 'prelu' ? alphas[i].data : null, gh, galpha, gbias);
          gz = gh;
        }
        if (i > 0) {
          const prev = layers[i - 1].y, prevDim = widths[i - 1], w = weightsOf[i];
          if (w.requiresGrad) native.gemm(true, false, prevDim, width, n, 1, prev, prevDim, gz, width, 1, gradOf(w), width);
          gh = scratch.take(n * prevDim);
          native.gemm(false, true, n, prevDim, width, 1, gz, width, w.data, width, 0, gh, prevDim);
          scratch.give(gz);
          continue;
        }
        // First layer: the q term was added per sample, so its gradient is a per-sample sum.
        const gq1 = scratch.take(B * H1);
        native.groupSums(gz, n, H1, offsets, B, gq1);
        if (b1.requiresGrad) native.columnSums(gq1, B, H1, gradOf(b1));
        if (w1.requiresGrad) {
          const gwc = scratch.take(2 * D * H1), gwa = scratch.take(D * H1);
          native.gemm(true, false, 2 * D, H1, n, 1, x, 2 * D, gz, H1, 0, gwc, H1);
          native.gemm(true, false, D, H1, B, 1, q.data, D, gq1, H1, 0, gwa, H1);
          mergeFirstLayerGrad(gradOf(w1), gwc, gwa, D, H1);
          scratch.give(gwc, gwa);
        }
        if (gq) native.gemm(false, true, B, D, H1, 1, gq1, H1, wa, H1, 1, gq, D);
        if (gq || gKeys) {
          const gx = scratch.take(n * 2 * D);
          native.gemm(false, true, n, 2 * D, H1, 1, gz, H1, wc, H1, 0, gx, 2 * D);
          native.dinPairsBackward(q.data, keys.data, gx, B, L, D, offsets, pairs, gq, gKeys);
          scratch.give(gx);
        }
        scratch.give(gz, gq1);
      }
      release();
    });
  }
  return { weights, pooled };
}

/** W1 = [Wq; Wk; Wd; Wp] (D rows each) -> wc = [Wk - Wd; Wp] (per pair), wa = Wq + Wd (per sample). */
/** True when every sample lists the same behaviour positions (offsets evenly spaced, pairs equal modulo L). */
function sameMaskEverySample(offsets: Int32Array, pairs: Int32Array, B: number, L: number): boolean {
  const m = offsets[1] - offsets[0];
  for (let b = 1; b < B; b++) {
    if (offsets[b + 1] - offsets[b] !== m) return false;
    for (let j = 0; j < m; j++) if (pairs[b * m + j] - b * L !== pairs[j]) return false;
  }
  return true;
}

/**
 * Inference when all B samples share their m valid behaviours (a ranking request): the whole unit
 * in one native call (dinAttentionShared: the pair layer as GEMMs over blocks of behaviours, each
 * block kept in cache through every layer), over the m shared keys only, never B copies of them.
 * Weights are written at the behaviours' positions (0 elsewhere, as dinAttention's).
 */
function sharedKeysAttention(
  q: Float32Array, keys: Float32Array, B: number, L: number, D: number, positions: Int32Array, wa: Float32Array, wc: Float32Array,
  widths: readonly number[], biases: readonly Tensor[], layerWeights: readonly Tensor[], activation: AttentionActivation,
  alphas: readonly Tensor[], stats: { mean: Float32Array; rstd: Float32Array }[] | null, wOut: Tensor, bOut: Tensor, softmax: boolean,
  weights: Float32Array, pooled: Float32Array,
): void {
  const m = positions.length, H1 = widths[0];
  weights.fill(0);
  if (m === 0) {
    pooled.fill(0);
    return;
  }
  // Per request in a ranking service: scratch memory, not fresh arrays for the collector.
  const K = scratch.take(m * D), scores = scratch.take(B * m);
  positions.forEach((l, j) => K.set(keys.subarray(l * D, (l + 1) * D), j * D));
  const joined = (parts: readonly Float32Array[]) => {
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) (out.set(p, at), (at += p.length));
    return out;
  };
  native.dinAttentionShared(
    q, K, B, m, D, wa, wc.subarray(0, D * H1), wc.subarray(D * H1), Int32Array.from(widths),
    joined(biases.map((b) => b.data)), joined(layerWeights.slice(1).map((w) => w.data)),
    ACTIVATION_CODE[activation === 'dice' ? 'none' : activation], activation === 'dice',
    alphas.length > 0 ? joined(alphas.map((a) => a.data)) : null, stats ? joined(stats.map((s) => s.mean)) : null, stats ? joined(stats.map((s) => s.rstd)) : null,
    wOut.data, bOut.data[0], softmax, scores, pooled,
  );
  scatterRows(scores, B, positions, L, weights);
  scratch.give(K, scores);
}

/**
 * out[b, positions[j]] = rows[b, j]. Its own function: V8 compiles a long loop on its first run
 * (on-stack replacement) and reuses that code on every later call; inside a larger function the
 * code ended where no feedback had been gathered yet and was thrown away at every request.
 */
function scatterRows(rows: Float32Array, B: number, positions: Int32Array, L: number, out: Float32Array): void {
  const m = positions.length;
  for (let b = 0; b < B; b++) for (let j = 0; j < m; j++) out[b * L + positions[j]] = rows[b * m + j];
}

function splitFirstLayer(w: Float32Array, D: number, H: number): { wc: Float32Array; wa: Float32Array } {
  const block = D * H;
  const wc = new Float32Array(2 * block), wa = new Float32Array(block);
  for (let i = 0; i < block; i++) {
    const wq = w[i], wk = w[block + i], wd = w[2 * block + i], wp = w[3 * block + i];
    wa[i] = wq + wd;
    wc[i] = wk - wd;
    wc[block + i] = wp;
  }
  return { wc, wa };
}

/** The chain rule through splitFirstLayer, accumulated into the gradient of W1. */
function mergeFirstLayerGrad(g: Float32Array, gwc: Float32Array, gwa: Float32Array, D: number, H: number): void {
  const block = D * H;
  for (let i = 0; i < block; i++) {
    const ga = gwa[i], gk = gwc[i];
    g[i] += ga;
    g[block + i] += gk;
    g[2 * block + i] += ga - gk;
    g[3 * block + i] += gwc[block + i];
  }
}

export interface InfoNCEOptions {
  /**
   * Extra negatives [Q, d] (a MoCo-style queue of earlier keys). They join both directions'
   * candidate sets and receive no gradient.
   */
  queue?: Tensor | null;
}

/**
 * Symmetric InfoNCE (CLIP / SimCLR style) for paired rows z1 [N, d], z2 [N, d]: the mean of the
 * row-wise and the column-wise cross-entropy of the logits z1 z2^T / tau, the diagonal being the
 * positives. One native pass computes both log-sum-exps and the logit gradient; backward is two
 * GEMMs.
 */
export function symmetricInfoNCE(z1: Tensor, z2: Tensor, tau: number, { queue = null }: InfoNCEOptions = {}): Tensor {
  const op = 'symmetricInfoNCE';
  expectRank(z1, 2, op, 'z1');
  expectRank(z2, 2, op, 'z2');
  const [N, d] = z1.shape;
  if (z2.shape[0] !== N || z2.shape[1] !== d) throw new ShapeError(`${op}: z1 ${shapeString(z1.shape)} and z2 ${shapeString(z2.shape)} must have the same shape`);
  if (!(tau > 0) || !Number.isFinite(tau)) throw new ShapeError(`${op}: tau must be a positive number, got ${tau}`);
  if (N === 0) throw new ShapeError(`${op}: needs at least one pair`);
  let Q = 0;
  if (queue) {
    expectRank(queue, 2, op, 'queue');
    if (queue.shape[1] !== d) throw new ShapeError(`${op}: queue ${shapeString(queue.shape)} must have ${d} columns`);
    Q = queue.shape[0];
  }
  const W = N + Q;
  const out = output([], [z1, z2]);
  const g = scratch.take(N * W);
  const g2 = Q > 0 ? scratch.take(N * Q) : null;
  const qd = Q > 0 ? queue!.data : null;
  out.data[0] = native.symmetricInfoNCE(z1.data, z2.data, N, d, qd, Q, 1 / tau, g, g2);
  if (!out.requiresGrad) scratch.give(g, g2);
  else {
    record(() => {
      if (!out.grad) {
        scratch.give(g, g2);
        return;
      }
      const s = out.grad[0] / tau;
      if (z1.requiresGrad) {
        const g1 = gradOf(z1);
        native.gemm(false, false, N, d, N, s, g, W, z2.data, d, 1, g1, d);
        if (qd) native.gemm(false, false, N, d, Q, s, g.subarray(N), W, qd, d, 1, g1, d);
      }
      if (z2.requiresGrad) {
        const gz2 = gradOf(z2);
        native.gemm(true, false, N, d, N, s, g, W, z1.data, d, 1, gz2, d);
        if (qd) native.gemm(false, false, N, d, Q, s, g2!, Q, qd, d, 1, gz2, d);
      }
      scratch.give(g, g2);
    });
  }
  return out;
}
