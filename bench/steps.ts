/**
 * The three reference training steps of ../shared/bench/torch_reference.py, on the engine, with
 * the same shapes, optimisers and per-step random inputs (ids drawn as vocab * u^3, a long
 * tail), so that samples per second compare directly. Each factory builds the model once and
 * returns a step function that draws a batch, runs forward, backward and the optimiser updates,
 * and returns the loss.
 */
import { backward } from '../src/engine/autograd.js';
import { lecunUniform } from '../src/engine/init.js';
import { native } from '../src/engine/native.js';
import { bceWithLogits, concat, dinAttention, l2Normalize, linear, reshape, symmetricInfoNCE } from '../src/engine/ops/index.js';
import { Adam, SparseAdam } from '../src/engine/optim.js';
import { RandomStream } from '../src/engine/random.js';
import { SparseEmbedding } from '../src/engine/sparse-embedding.js';
import { Parameter, Tensor } from '../src/engine/tensor.js';

export interface BenchStep {
  name: string;
  batch: number;
  step: () => number;
}

const V = 1_000_000;
const D = 32;

/** ids in [0, vocab): floor(vocab * u^3), as the reference's (vocab * rand() ** 3).long(). */
function tailIds(rng: RandomStream, n: number, vocab: number): Int32Array {
  const u = rng.uniform(n);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = u[i];
    out[i] = Math.min(vocab - 1, Math.floor(vocab * v * v * v));
  }
  return out;
}

interface Dense {
  w: Parameter;
  b: Parameter;
}

/** nn.Linear's default initialisation (uniform, limit 1 / sqrt(fanIn)) for weight and bias. */
function dense(name: string, inDim: number, outDim: number, rng: RandomStream, params: Map<string, Parameter>): Dense {
  const w = new Parameter(`${name}.w`, lecunUniform([inDim, outDim], rng.fork(`${name}.w`)), [inDim, outDim]);
  const b = new Parameter(`${name}.b`, rng.fork(`${name}.b`).uniform(outDim, -1 / Math.sqrt(inDim), 1 / Math.sqrt(inDim)), [outDim]);
  params.set(w.name, w);
  params.set(b.name, b);
  return { w, b };
}

/** Hidden layers with ReLU, a last layer without activation. */
function mlp(name: string, dims: number[], rng: RandomStream, params: Map<string, Parameter>): (x: Tensor) => Tensor {
  const layers = dims.slice(1).map((out, i) => dense(`${name}${i}`, dims[i], out, rng, params));
  return (x) => layers.reduce((h, l, i) => linear(h, l.w, l.b, i < layers.length - 1 ? 'relu' : 'none'), x);
}

/** ctr: 1M x 32 table (sparse Adam), 8 fields, MLP 256-256-128-64-1 (ReLU, Adam), BCE, batch 4096. */
export function ctrStep(seed = 0): BenchStep {
  const bsz = 4096, fields = 8;
  const rng = new RandomStream(seed);
  const emb = new SparseEmbedding({ rows: V, dim: D }, rng.fork('emb'));
  const params = new Map<string, Parameter>();
  const net = mlp('mlp', [fields * D, 256, 256, 128, 64, 1], rng.fork('mlp'), params);
  const sparse = new SparseAdam(new Map([['emb', emb]]), { lr: 1e-3 });
  const adam = new Adam(params, { lr: 1e-3 });
  const data = rng.fork('data');
  const labels = new Float32Array(bsz);
  return {
    name: 'ctr',
    batch: bsz,
    step: () => {
      const ids = tailIds(data, bsz * fields, V);
      for (let i = 0; i < bsz; i++) labels[i] = ids[i * fields] % 2;
      const x = reshape(emb.lookup(ids, [bsz, fields]), [bsz, fields * D]);
      const loss = bceWithLogits(net(x), labels);
      backward(loss);
      sparse.step();
      adam.step();
      return loss.item();
    },
  };
}

/**
 * din: item (1M x 32) and category (10k x 32) embeddings make 64-dim items, user 1M x 32; batch
 * 1024, 100 behaviours with lengths uniform in [10, 100] (masked); attention unit 256 -> 80 ->
 * 40 -> 1 with sigmoid, raw weights; over-MLP 160 -> 200 -> 80 -> 1 with ReLU; sparse Adam on the
 * tables, Adam on the rest.
 */
export function dinStep(seed = 0): BenchStep {
  const bsz = 1024, L = 100, C = 10_000, Dq = 2 * D;
  const rng = new RandomStream(seed);
  const item = new SparseEmbedding({ rows: V, dim: D }, rng.fork('item'));
  const cate = new SparseEmbedding({ rows: C, dim: D }, rng.fork('cate'));
  const user = new SparseEmbedding({ rows: V, dim: D }, rng.fork('user'));
  const params = new Map<string, Parameter>();
  const a1 = dense('att1', 4 * Dq, 80, rng, params);
  const a2 = dense('att2', 80, 40, rng, params);
  const a3 = dense('att3', 40, 1, rng, params);
  const unit = { w1: a1.w, b1: a1.b, hidden: [a2], wOut: a3.w, bOut: a3.b };
  const over = mlp('over', [5 * D, 200, 80, 1], rng.fork('over'), params);
  const sparse = new SparseAdam(new Map([['item', item], ['cate', cate], ['user', user]]), { lr: 1e-3 });
  const adam = new Adam(params, { lr: 1e-3 });
  const data = rng.fork('data');
  const labels = new Float32Array(bsz);
  const mask = new Float32Array(bsz * L);
  return {
    name: 'din',
    batch: bsz,
    step: () => {
      const tItem = tailIds(data, bsz, V), tCate = tailIds(data, bsz, C), u = tailIds(data, bsz, V);
      const sItem = tailIds(data, bsz * L, V), sCate = tailIds(data, bsz * L, C);
      const lengths = data.ints(bsz, L - 9);
      mask.fill(0);
      for (let b = 0; b < bsz; b++) mask.fill(1, b * L, b * L + 10 + lengths[b]);
      for (let b = 0; b < bsz; b++) labels[b] = tItem[b] % 2;
      const q = concat([item.lookup(tItem), cate.lookup(tCate)], 1);
      const k = concat([item.lookup(sItem, [bsz, L]), cate.lookup(sCate, [bsz, L])], 2);
      const { pooled } = dinAttention(q, k, mask, unit, { activation: 'sigmoid' });
      const logits = over(concat([user.lookup(u), q, pooled], 1));
      const loss = bceWithLogits(logits, labels);
      backward(loss);
      sparse.step();
      adam.step();
      return loss.item();
    },
  };
}

/** infonce: encoder 256 -> 256 -> 128 (ReLU), L2-normalised, symmetric InfoNCE, batch 2048, tau 0.07, Adam. */
export function infonceStep(seed = 0): BenchStep {
  const bsz = 2048, dim = 256, tau = 0.07;
  const rng = new RandomStream(seed);
  const params = new Map<string, Parameter>();
  const enc = mlp('enc', [dim, 256, 128], rng.fork('enc'), params);
  const adam = new Adam(params, { lr: 1e-3 });
  const data = rng.fork('data');
  const base = data.normal(bsz * dim);
  const view = (): Tensor => {
    const x = data.normal(bsz * dim, 0, 0.1);
    native.axpy(1, base, x);
    return l2Normalize(enc(new Tensor(x, [bsz, dim])));
  };
  return {
    name: 'infonce',
    batch: bsz,
    step: () => {
      const z1 = view(), z2 = view();
      const loss = symmetricInfoNCE(z1, z2, tau);
      backward(loss);
      adam.step();
      return loss.item();
    },
  };
}
