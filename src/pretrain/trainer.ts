/**
 * The one contrastive training loop of pre-training: an SclModel trained with symmetric InfoNCE
 * between query vectors and their positive keys, Adam on the dense parts and sparse Adam on the
 * token table, optionally against a MoCo queue of momentum-encoder keys (earlier batches' items,
 * with a batch's own items masked out of it) and extra constant negatives. What the examples
 * are and how a batch of them becomes (queries, keys) is a PairSource: search -> purchase pairs
 * with hard negatives (train.ts, `mmctr pretrain`), co-click pairs of the training split
 * (coclick/train.ts, `mmctr pretrain text`).
 *
 * A step: the source encodes the batch (its own extra loss term too, e.g. SCL's triplet loss);
 * loss = symInfoNCE(q, k, tau; queue + extra negatives) + weight x term; backward; both
 * optimisers step; the key encoder follows the online one (EMA) and the batch's keys join the
 * queue.
 */
import { backward } from '../engine/autograd.js';
import { Adam, SparseAdam } from '../engine/optim.js';
import { add, scale, symmetricInfoNCE } from '../engine/ops/index.js';
import { RandomStream } from '../engine/random.js';
import { Tensor } from '../engine/tensor.js';
import { MmctrError } from '../util/errors.js';
import type { SclConfig } from './config.js';
import { frozenFeatures, ItemInputs, SclModel, Side } from './model.js';
import { KeyQueue, MomentumEncoder } from './moco.js';

/** What the loop reads of a config: SclConfig has it all; co-click maps its own onto it. */
export interface ContrastiveConfig {
  seed: number;
  model: SclConfig['model'];
  loss: Pick<SclConfig['loss'], 'tau' | 'queueSize' | 'momentum'>;
  train: SclConfig['train'];
}

/** The models of a run, for a source that encodes extra keys without gradient. */
export interface Encoders {
  model: SclModel;
  /** The item inputs of this epoch: the run's, or before a trainable backbone top trains, their features through the frozen top. */
  inputs: ItemInputs;
  /** The momentum key encoder (null without a queue). */
  keys: MomentumEncoder | null;
}

/** One step's tensors, as a source builds them from a batch of its examples. */
export interface ContrastiveBatch {
  /** Query vectors and their positive keys, [B, outDim] each, L2-normalised, on the tape. */
  q: Tensor;
  k: Tensor;
  /** A loss added to InfoNCE with this weight (SCL's triplet loss on hard negatives). */
  term?: { loss: Tensor; weight: number } | null;
  /** Constant negatives [n * outDim] beside the queue's keys (co-click's uniform catalogue items). */
  negatives?: Float32Array | null;
  /** Items whose earlier keys are masked out of the queue in this step (never their own negatives). */
  masked: Iterable<number>;
  /** Items whose momentum keys join the queue after the step, and the side each is encoded with. */
  enqueue: { items: ArrayLike<number>; side: Side };
}

export interface PairSource {
  /** What the examples are, for error messages ("SCL", "co-click training"). */
  readonly name: string;
  /** Number of examples; the loop shuffles their indices every epoch. */
  readonly count: number;
  /** The tensors of one step for the examples at `rows` (a slice of the epoch's shuffled order). */
  batch(rows: Int32Array, encoders: Encoders): ContrastiveBatch;
}

export interface TrainProgress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  /** InfoNCE + weight x the source's term. */
  loss: number;
  nce: number;
  /** The source's term, unweighted (0 without one). */
  triplet: number;
  pairsPerSec: number;
}

export interface ContrastiveResult {
  model: SclModel;
  steps: number;
  pairs: number;
  seconds: number;
  pairsPerSec: number;
  finalLoss: number;
}

export interface LoopOptions {
  onProgress?: (p: TrainProgress) => void;
  /** Report every this many steps (and at the last one). */
  reportEvery?: number;
}

export function trainContrastive(config: ContrastiveConfig, inputs: ItemInputs, source: PairSource, { onProgress, reportEvery = 10 }: LoopOptions = {}): ContrastiveResult {
  const mc = config.model, lc = config.loss, tc = config.train;
  if (inputs.maxTokens !== mc.maxTokens) throw new MmctrError(`item inputs have ${inputs.maxTokens} tokens per text, the model config says ${mc.maxTokens}`);
  const n = source.count;
  if (n < 2) throw new MmctrError(`${source.name} needs at least 2 training pairs, got ${n}`);
  const rng = new RandomStream(config.seed);
  const head = inputs.imageHead ?? null;
  const model = new SclModel(mc, inputs.featureDim, rng.fork('model'), head);
  // The backbone's pretrained top learns at its own (lower) rate.
  const [backbone, towers] = partition(model.namedParameters(), (name) => name.startsWith('image.head.'));
  const dense = new Adam(towers, { lr: tc.lr, weightDecay: tc.weightDecay });
  const top = backbone.size ? new Adam(backbone, { lr: mc.trainableLr, weightDecay: tc.weightDecay }) : null;
  const sparse = new SparseAdam(model.namedTables(), { lr: tc.sparseLr });
  const queue = lc.queueSize > 0 ? new KeyQueue(lc.queueSize, mc.outDim) : null;
  const keys = queue ? new MomentumEncoder(model, new SclModel(mc, inputs.featureDim, rng.fork('model'), head), lc.momentum) : null;
  // The top trains in the last trainableEpochs only; the epochs before read its frozen output, computed once.
  const topEpochs = head ? Math.min(mc.trainableEpochs, tc.epochs) : tc.epochs;
  const probe = topEpochs < tc.epochs ? frozenFeatures(inputs) : inputs;
  const encoders: Encoders = { model, keys, inputs: probe };
  const B = Math.min(tc.batchSize, n);
  const stepsPerEpoch = Math.floor(n / B);
  const steps = stepsPerEpoch * tc.epochs;
  const shuffle = rng.fork('shuffle');
  const t0 = performance.now();
  let step = 0, finalLoss = NaN;
  model.train();
  for (let epoch = 0; epoch < tc.epochs; epoch++) {
    const order = shuffle.permutation(n);
    if (epoch === tc.epochs - topEpochs) encoders.inputs = inputs;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const batch = source.batch(order.subarray(s * B, (s + 1) * B), encoders);
      const term = batch.term ?? null;
      const triplet = term ? term.loss.data[0] : 0;
      const run = (queued: Tensor | null): number => {
        const nce = symmetricInfoNCE(batch.q, batch.k, lc.tau, { queue: withNegatives(queued, batch.negatives ?? null, mc.outDim) });
        backward(term ? add(nce, scale(term.loss, term.weight)) : nce);
        return nce.data[0];
      };
      const nce = queue ? queue.withNegatives(new Set(batch.masked), run) : run(null);
      dense.step();
      top?.step();
      sparse.step();
      if (queue && keys) {
        keys.update();
        queue.enqueue(keys.encodeItems(encoders.inputs, batch.enqueue.items, batch.enqueue.side), batch.enqueue.items);
      }
      step++;
      finalLoss = nce + (term ? term.weight : 0) * triplet;
      if (onProgress && (step % reportEvery === 0 || step === steps)) {
        const sec = (performance.now() - t0) / 1000;
        onProgress({ epoch: epoch + 1, epochs: tc.epochs, step, steps, loss: finalLoss, nce, triplet, pairsPerSec: (step * B) / Math.max(sec, 1e-9) });
      }
    }
  }
  model.eval();
  const seconds = (performance.now() - t0) / 1000;
  return { model, steps, pairs: step * B, seconds, pairsPerSec: (step * B) / Math.max(seconds, 1e-9), finalLoss };
}

/** The entries whose name passes `test`, and the others. */
function partition<T>(named: Map<string, T>, test: (name: string) => boolean): [Map<string, T>, Map<string, T>] {
  const yes = new Map<string, T>(), no = new Map<string, T>();
  for (const [name, v] of named) (test(name) ? yes : no).set(name, v);
  return [yes, no];
}

/** The queue's keys followed by the extra constant keys, or either alone. */
function withNegatives(queue: Tensor | null, extra: Float32Array | null, dim: number): Tensor | null {
  if (!extra || extra.length === 0) return queue;
  if (!queue) return new Tensor(extra, [extra.length / dim, dim], false);
  const out = new Float32Array(queue.data.length + extra.length);
  out.set(queue.data);
  out.set(extra, queue.data.length);
  return new Tensor(out, [out.length / dim, dim], false);
}
