/**
 * A trained CTR model as one ONNX graph: the same forward pass as the engine's in eval mode (no
 * dropout, Dice on its running statistics), part by part, one emitter per part kind (ID features,
 * item vectors, target attention with its activation, SimTier, SimScore, MAKE, the MLP with side
 * inputs). Every parameter, buffer and table of the model must be read by some emitter: one left
 * over means a part the exporter does not know, and the export is refused (ExportError) rather
 * than writing a graph that scores differently.
 *
 * The graph's inputs (the contract docs/export.md describes) are catalogue indices and vector
 * rows, never ids: id -> index maps stay outside, in the side file (export/run-export.ts).
 * Histories come as [H, L] with H = B (one per row) or H = 1 (a ranking request's one history,
 * broadcast inside the graph).
 */
import type { Module } from '../engine/module.js';
import type { SparseEmbedding } from '../engine/sparse-embedding.js';
import { ACTIVATIONS, type ActivationName } from '../nn/activation.js';
import type { TargetAttention } from '../nn/attention.js';
import type { MLP } from '../nn/mlp.js';
import type { CtrModel } from '../ctr/models/index.js';
import { besideLayers, Din } from '../ctr/models/din.js';
import type { Make } from '../ctr/models/make.js';
import { SumPooling } from '../ctr/models/sum-pooling.js';
import type { IdFeatures } from '../ctr/parts/id-features.js';
import type { SimTier } from '../ctr/parts/simtier.js';
import { ExportError } from './errors.js';
import { Dim, ElementType, GraphBuilder, OPSET } from '../util/onnx-graph.js';

/** One named input or output of the graph. */
export interface TensorSpec {
  name: string;
  dtype: ElementType;
  shape: Dim[];
  meaning: string;
}

export interface OnnxGraph {
  /** The serialised ModelProto. */
  bytes: Uint8Array;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** The item vectors' width (null for an ID-only model). */
  vectorDim: number | null;
  historyLength: number;
  opset: number;
}

/** Dice's epsilon: the default of engine/ops/activation.ts `dice` and of the fused attention's `diceEps`, which the models never override. */
const DICE_EPS = 1e-8;

/** Reads the model's parameters, buffers and tables by dotted name, and remembers which were read. */
class Weights {
  private readonly params: Map<string, Float32Array>;
  private readonly buffers: Map<string, Float32Array>;
  private readonly tables: Map<SparseEmbedding, string>;
  private readonly read = new Set<string>();
  private readonly constants = new Map<object, string>();

  constructor(
    readonly g: GraphBuilder,
    model: Module,
  ) {
    this.params = new Map([...model.namedParameters()].map(([n, p]) => [n, p.data]));
    this.buffers = model.namedBuffers();
    this.tables = new Map([...model.namedTables()].map(([n, t]) => [t, n]));
  }

  private take(kind: 'parameter' | 'buffer', from: Map<string, Float32Array>, name: string): Float32Array {
    const data = from.get(name);
    if (!data) throw new ExportError(name, `the model has no ${kind} of that name (the exporter expects it for this part)`);
    this.read.add(name);
    return data;
  }

  param(name: string): Float32Array {
    return this.take('parameter', this.params, name);
  }

  buffer(name: string): Float32Array {
    return this.take('buffer', this.buffers, name);
  }

  /** A parameter as a graph constant (one initialiser however often it is used). */
  constant(name: string, dims: readonly number[]): string {
    const data = this.param(name);
    let c = this.constants.get(data);
    if (!c) this.constants.set(data, (c = this.g.float(name, data, dims)));
    return c;
  }

  /** An embedding table as a graph constant. */
  table(t: SparseEmbedding): string {
    const name = this.tables.get(t);
    if (!name) throw new ExportError('features', 'an embedding table that is not registered in the model');
    this.read.add(name);
    let c = this.constants.get(t);
    if (!c) this.constants.set(t, (c = this.g.float(name, t.weight, [t.rows, t.dim])));
    return c;
  }

  /** An int64 map (item -> field value) as a graph constant, once. */
  indexMap(name: string, values: Int32Array): string {
    let c = this.constants.get(values);
    if (!c) this.constants.set(values, (c = this.g.int64(name, values, [values.length])));
    return c;
  }

  /** Names of what no emitter read: parts the exporter does not know. */
  unread(): string[] {
    return [...this.params.keys(), ...this.buffers.keys(), ...this.tables.values()].filter((n) => !this.read.has(n));
  }
}

/** The graph's inputs, declared as the parts ask for them (a model without user features takes no `user`). */
class Inputs {
  private userInput: string | null = null;
  private vectorInputs: { target: string; hist: string; targetHas: string; histHas: string } | null = null;
  readonly item: string;
  readonly histItems: string;
  readonly histMask: string;
  readonly specs: TensorSpec[] = [];

  constructor(
    private readonly g: GraphBuilder,
    readonly L: number,
    readonly vectorDim: number | null,
  ) {
    this.item = this.declare('item', 'int64', ['B'], 'catalogue index of each candidate (1-based, as in the side file; 0 = unknown to the ID tables)');
    this.histItems = this.declare('hist_items', 'int64', ['H', L], 'catalogue indices of the behaviours, oldest first, left-aligned (padding: any index, e.g. 0); H = B (one history per row) or 1 (one history shared by all rows)');
    this.histMask = this.declare('hist_mask', 'float32', ['H', L], '1 for a real behaviour, 0 for padding (positions [0, length) are real)');
  }

  private declare(name: string, dtype: ElementType, shape: Dim[], meaning: string): string {
    this.specs.push({ name, dtype, shape, meaning });
    return this.g.input(name, dtype, shape, meaning);
  }

  get user(): string {
    return (this.userInput ??= this.declare('user', 'int64', ['B'], 'user index of each row (1-based, as in the side file; 0 = unknown)'));
  }

  /** The item vector inputs, zeroed where a has-vector flag is 0 (so a caller's junk rows cannot leak in). */
  get vectors(): { target: string; hist: string; targetHas: string; histHas: string } {
    if (!this.vectorInputs) {
      const D = this.vectorDim;
      if (D === null) throw new ExportError('content', 'the model reads item vectors but has no vector table to size them');
      const { g } = this;
      const target = this.declare('target_vector', 'float32', ['B', D], 'item vector of each candidate (L2-normalised, as the index stores it); a zero row where it has none');
      const targetHas = this.declare('target_has_vector', 'float32', ['B'], '1 when the candidate has a vector, else 0');
      const hist = this.declare('hist_vectors', 'float32', ['H', this.L, D], 'item vector of each behaviour; a zero row where it has none');
      const histHas = this.declare('hist_has_vector', 'float32', ['H', this.L], '1 when the behaviour has a vector, else 0');
      const last = g.ints([-1]);
      this.vectorInputs = {
        target: g.op('Mul', [target, g.op('Unsqueeze', [targetHas, last], 'content.target_has')], 'content.target'),
        hist: g.op('Mul', [hist, g.op('Unsqueeze', [histHas, last], 'content.hist_has')], 'content.hist'),
        targetHas,
        histHas,
      };
    }
    return this.vectorInputs;
  }
}

interface Emit {
  g: GraphBuilder;
  w: Weights;
  inputs: Inputs;
}

function activation(e: Emit, path: string, kind: ActivationName, x: string): string {
  const { g, w } = e;
  switch (kind) {
    case 'relu': return g.op('Relu', [x], `${path}.relu`);
    case 'sigmoid': return g.op('Sigmoid', [x], `${path}.sigmoid`);
    case 'tanh': return g.op('Tanh', [x], `${path}.tanh`);
    case 'prelu': {
      const alpha = w.param(`${path}.alpha`);
      return g.op('PRelu', [x, w.constant(`${path}.alpha`, [alpha.length])], `${path}.prelu`);
    }
    case 'dice': {
      // Inference Dice: p = sigmoid((x - running mean) / sqrt(running var + eps)), y = x (alpha + p (1 - alpha)),
      // with 1/sqrt and 1 - alpha rounded to float32 as the kernel computes them (native/elementwise.cc).
      const alpha = w.param(`${path}.alpha`), mean = w.buffer(`${path}.running_mean`), variance = w.buffer(`${path}.running_var`);
      const eps = Math.fround(DICE_EPS);
      const rstd = variance.map((v) => Math.fround(1 / Math.fround(Math.sqrt(Math.fround(v + eps)))));
      const oneMinus = alpha.map((a) => 1 - a);
      const n = alpha.length;
      const z = g.op('Mul', [g.op('Sub', [x, g.float(`${path}.running_mean`, mean, [n])], `${path}.centred`), g.float(`${path}.rstd`, rstd, [n])], `${path}.standardised`);
      const p = g.op('Sigmoid', [z], `${path}.p`);
      const gate = g.op('Add', [w.constant(`${path}.alpha`, [n]), g.op('Mul', [p, g.float(`${path}.one_minus_alpha`, oneMinus, [n])], `${path}.p_scaled`)], `${path}.gate`);
      return g.op('Mul', [x, gate], `${path}.dice`);
    }
    default:
      throw new ExportError(path, `activation '${String(kind)}' has no ONNX form here (exportable: ${ACTIVATIONS.join(', ')})`);
  }
}

/** x [.., in] W + b for the parameters `${path}.w<tag>` / `${path}.b<tag>`. */
function dense(e: Emit, path: string, tag: string, x: string): string {
  const { g, w } = e;
  const weight = w.param(`${path}.w${tag}`), bias = w.param(`${path}.b${tag}`);
  const out = bias.length, rows = weight.length / out;
  return g.op('Add', [g.op('MatMul', [x, w.constant(`${path}.w${tag}`, [rows, out])], `${path}.matmul${tag}`), w.constant(`${path}.b${tag}`, [out])], `${path}.dense${tag}`);
}

/** nn/mlp.ts's MLP in eval mode: each hidden layer (after its side input, if any), then the output layer. */
function mlp(e: Emit, path: string, m: MLP, x: string, side: readonly (string | null)[] = []): { out: string; hidden: string[] } {
  const { g } = e;
  const a = m.args;
  const join = (h: string, i: number) => (i > 0 && side[i - 1] ? g.op('Concat', [h, side[i - 1]!], `${path}.join${i}`, { axis: 1 }) : h);
  const hidden: string[] = [];
  let h = x;
  a.hidden.forEach((_, i) => {
    h = activation(e, `${path}.act${i}`, a.activation, dense(e, path, String(i), join(h, i)));
    hidden.push(h);
  });
  h = join(h, a.hidden.length);
  const out = a.output > 0 ? dense(e, path, a.outputNames === 'out' ? '_out' : String(a.hidden.length), h) : h;
  return { out, hidden };
}

/**
 * Weights [B, L] times keys [H, L, d] -> [B, d]. The rows are viewed as [H, B / H, L], so a
 * shared history (H = 1) is one [B, L] x [L, d] GEMM and H = B is B row-vector products; neither
 * expands the keys to [B, L, d].
 */
function pool(e: Emit, path: string, weights: string, keys: string): string {
  const { g } = e;
  const L = e.inputs.L;
  const histories = g.op('Slice', [g.op('Shape', [keys], `${path}.keys_shape`), g.ints([0]), g.ints([1])], `${path}.histories`);
  const grouped = g.op('Reshape', [weights, g.op('Concat', [histories, g.ints([-1, L])], `${path}.grouped_shape`, { axis: 0 })], `${path}.grouped`);
  const pooled = g.op('MatMul', [grouped, keys], `${path}.pooled3`);
  const width = g.op('Slice', [g.op('Shape', [keys], `${path}.keys_shape2`), g.ints([2]), g.ints([3])], `${path}.width`);
  return g.op('Reshape', [pooled, g.op('Concat', [g.ints([-1]), width], `${path}.pooled_shape`, { axis: 0 })], `${path}.pooled`);
}

/**
 * DIN target attention (nn/attention.ts over engine/ops/fused.ts dinAttention): the unit on
 * [q, k, q - k, q * k], raw scores or a softmax over the unmasked behaviours, and the weighted
 * sum of the keys. q [B, d], keys [H, L, d], mask [H, L] or [B, L] (non-zero = real).
 *
 * The first layer is split as the fused kernel splits it, q (Wq + Wd) + k (Wk - Wd) + (q * k) Wp,
 * and regrouped per candidate: k (Wk - Wd) + (q * k) Wp = k M_q with M_q = (Wk - Wd) + diag(q) Wp
 * [d, H1], so the pair layer is one batched MatMul keys [H, L, d] x M [B, d, H1] (broadcast over
 * the shared history) plus the per-candidate q (Wq + Wd) + b0; no [B, L, d] pair tensor is formed.
 */
function attention(e: Emit, path: string, att: TargetAttention, q: string, keys: string, mask: string): string {
  const { g, w } = e;
  const { dim: d, hidden, activation: kind, softmax } = att.args;
  const H1 = hidden[0];
  const w0 = w.param(`${path}.w0`);
  const block = d * H1;
  const wa = new Float32Array(block), wk = new Float32Array(block);
  for (let i = 0; i < block; i++) {
    wa[i] = w0[i] + w0[2 * block + i];
    wk[i] = w0[block + i] - w0[2 * block + i];
  }
  const wp = w0.subarray(3 * block, 4 * block);
  const axis1 = g.ints([1]), axis2 = g.ints([2]);
  const qTerm = g.op('Add', [g.op('MatMul', [q, g.float(`${path}.w0_q`, wa, [d, H1])], `${path}.q_matmul`), w.constant(`${path}.b0`, [H1])], `${path}.q_term`);
  const perCandidate = g.op('Add', [g.float(`${path}.w0_k`, wk, [d, H1]), g.op('Mul', [g.op('Unsqueeze', [q, axis2], `${path}.q_col`), g.float(`${path}.w0_p`, wp, [d, H1])], `${path}.q_wp`)], `${path}.w0_per_candidate`);
  const z = g.op('Add', [g.op('MatMul', [keys, perCandidate], `${path}.pair_term`), g.op('Unsqueeze', [qTerm, axis1], `${path}.q_term3`)], `${path}.z0`);
  let h = activation(e, `${path}.act0`, kind, z);
  for (let i = 1; i < hidden.length; i++) h = activation(e, `${path}.act${i}`, kind, dense(e, path, String(i), h));
  const last = hidden[hidden.length - 1];
  const scores = g.op('Add', [g.op('Squeeze', [g.op('MatMul', [h, w.constant(`${path}.w_out`, [last, 1])], `${path}.score_matmul`), axis2], `${path}.score_raw`), w.constant(`${path}.b_out`, [1])], `${path}.scores`);
  const real = g.op('Not', [g.op('Equal', [mask, g.scalar(0)], `${path}.padding`)], `${path}.real`);
  let weights: string;
  if (!softmax) weights = g.op('Where', [real, scores, g.scalar(0)], `${path}.weights`);
  else {
    // The max over real behaviours only; a history without any gets weight 0 everywhere (no NaN).
    const kept = g.op('Where', [real, scores, g.scalar(-1e30)], `${path}.kept`);
    const max = g.op('ReduceMax', [kept], `${path}.max`, { axes: [1], keepdims: 1 });
    const exp = g.op('Where', [real, g.op('Exp', [g.op('Sub', [kept, max], `${path}.shifted`)], `${path}.exp_all`), g.scalar(0)], `${path}.exp`);
    const sum = g.op('ReduceSum', [exp, axis1], `${path}.sum`, { keepdims: 1 });
    weights = g.op('Div', [exp, g.op('Max', [sum, g.scalar(1e-30)], `${path}.sum_safe`)], `${path}.weights`);
  }
  return pool(e, path, weights, keys);
}

/** ctr/parts/id-features.ts: the target, behaviour and user embeddings. */
function idFeatures(e: Emit, path: string, f: IdFeatures): { target: string; history: string; user: string | null } {
  const { g, w, inputs } = e;
  const embed = (ids: string, what: string) => {
    // A bounded item table reads its row through the index -> row map first (ids are catalogue indices, never past it).
    const rows = f.itemRows ? g.op('Gather', [w.indexMap(`${path}.item_rows`, f.itemRows), ids], `${path}.${what}.item_row`) : ids;
    const parts = [g.op('Gather', [w.table(f.itemTable), rows], `${path}.${what}.item`)];
    for (const ft of f.fieldTables) {
      const value = g.op('Gather', [w.indexMap(`${path}.${ft.field}_of_item`, ft.ofItem), ids], `${path}.${what}.${ft.field}_index`);
      parts.push(g.op('Gather', [w.table(ft.table), value], `${path}.${what}.${ft.field}`));
    }
    return parts.length === 1 ? parts[0] : g.op('Concat', parts, `${path}.${what}`, { axis: -1 });
  };
  const target = embed(inputs.item, 'target');
  const history = embed(inputs.histItems, 'history');
  const userParts: string[] = [];
  if (f.userTable) {
    let rows = inputs.user;
    if (f.userRows) {
      // As the model: a user index past the map (a user the store never saw) reads row 0.
      const padded = Int32Array.from([...f.userRows, 0]);
      const at = g.op('Min', [inputs.user, g.int64(`${path}.user_rows_last`, [f.userRows.length], [])], `${path}.user_rows_at`);
      rows = g.op('Gather', [g.int64(`${path}.user_rows`, padded, [padded.length]), at], `${path}.user_row`);
    }
    userParts.push(g.op('Gather', [w.table(f.userTable), rows], `${path}.user`));
  }
  f.userFieldTables.forEach((uf, i) => {
    // A user index past the field's map (a user the store never saw) reads value 0, 'missing', as the model does.
    const padded = Int32Array.from([...uf.ofUser, 0]);
    const at = g.op('Min', [inputs.user, g.int64(`${path}.user_field${i}_last`, [uf.ofUser.length], [])], `${path}.user_field${i}_at`);
    const value = g.op('Gather', [g.int64(`${path}.user_field${i}_of_user`, padded, [padded.length]), at], `${path}.user_field${i}_index`);
    userParts.push(g.op('Gather', [w.table(uf.table), value], `${path}.user_field${i}`));
  });
  const user = userParts.length === 0 ? null : userParts.length === 1 ? userParts[0] : g.op('Concat', userParts, `${path}.user_all`, { axis: 1 });
  return { target, history, user };
}

/**
 * Which (target, behaviour) pairs have a similarity: real behaviours with a vector, of a target
 * with one. [B, L].
 */
function similarityMask(e: Emit): string {
  const { g, inputs } = e;
  const v = inputs.vectors;
  const hist = g.op('Mul', [inputs.histMask, v.histHas], 'content.hist_real_with_vector');
  return g.op('Mul', [hist, g.op('Unsqueeze', [v.targetHas, g.ints([1])], 'content.target_has2')], 'content.pair_has_similarity');
}

/**
 * Each behaviour's cosine to its target [B, L] (clamped to [-1, 1], 0 where there is none) and
 * SimTier's features [B, tiers] (ctr/parts/simtier.ts over native/simtier.cc).
 */
function simTier(e: Emit, path: string, st: SimTier | null): { sims: string; tiers: string | null } {
  const { g, inputs } = e;
  const v = inputs.vectors;
  const valid = similarityMask(e);
  // Targets viewed as [H, B / H, D] against the transposed histories [H, D, L]: one GEMM for a shared history.
  const histories = g.op('Slice', [g.op('Shape', [v.hist], 'content.hist_shape'), g.ints([0]), g.ints([1])], 'content.histories');
  const grouped = g.op('Reshape', [v.target, g.op('Concat', [histories, g.ints([-1, inputs.vectorDim!])], 'content.grouped_shape', { axis: 0 })], 'content.target_grouped');
  const dot = g.op('MatMul', [grouped, g.op('Transpose', [v.hist], 'content.hist_t', { perm: [0, 2, 1] })], 'content.dot');
  const cos = g.op('Clip', [g.op('Reshape', [dot, g.ints([-1, inputs.L])], 'content.dot2'), g.scalar(-1), g.scalar(1)], 'content.cosine');
  const sims = g.op('Mul', [cos, valid], 'content.similarity');
  if (!st) return { sims, tiers: null };
  const N = st.config.tiers;
  // Counts of valid pairs at or above each inner edge [B, N - 1] (pairs without a similarity sit at -2, below every one),
  // then tier t = (at or above edge t) - (at or above edge t + 1), with edge 0 counting every valid pair and edge N none.
  const ranked = g.op('Unsqueeze', [g.op('Where', [g.op('Greater', [valid, g.scalar(0)], `${path}.has`), cos, g.scalar(-2)], `${path}.ranked2`), g.ints([2])], `${path}.ranked`);
  const edges = g.float(`${path}.tier_bounds`, tierBounds(N).subarray(1, N), [N - 1]);
  const above = g.op('ReduceSum', [g.op('Cast', [g.op('GreaterOrEqual', [ranked, edges], `${path}.at_least`)], `${path}.at_least_f`, { to: 1 }), g.ints([1])], `${path}.above`, { keepdims: 0 });
  const total = g.op('ReduceSum', [valid, g.ints([1])], `${path}.total`, { keepdims: 1 });
  const none = g.op('Mul', [total, g.scalar(0)], `${path}.none`);
  let tiers = g.op('Sub', [g.op('Concat', [total, above], `${path}.from`, { axis: 1 }), g.op('Concat', [above, none], `${path}.past`, { axis: 1 })], `${path}.counts`);
  switch (st.config.transform) {
    case 'count':
      break;
    case 'log':
      tiers = g.op('Log', [g.op('Add', [tiers, g.scalar(1)], `${path}.one_plus`)], `${path}.log`);
      break;
    case 'fraction': {
      // Over the history length (padding excluded, behaviours without a vector included), 0 for an empty history.
      const length = g.op('ReduceSum', [inputs.histMask, g.ints([1])], `${path}.length`, { keepdims: 1 });
      tiers = g.op('Div', [tiers, g.op('Max', [length, g.scalar(1)], `${path}.length_safe`)], `${path}.fraction`);
      break;
    }
    default:
      throw new ExportError(path, `SimTier transform '${String(st.config.transform)}' has no ONNX form here`);
  }
  if (st.config.learnableWeights) tiers = g.op('Mul', [tiers, e.w.constant(`${path}.tier_weights`, [N])], `${path}.weighted`);
  return { sims, tiers };
}

/**
 * The lower bound of each tier as float32 cosines: the kernel puts s in tier
 * floor((s + 1) * N / 2) computed in double, so tier t starts at the smallest float32 s with
 * (s + 1) * (N / 2) >= t. Comparing a cosine with these bounds gives the kernel's tier exactly,
 * ties at the edges going up. Bound 0 is -inf and bound N is +inf.
 */
export function tierBounds(N: number): Float32Array {
  const scale = 0.5 * N;
  const bounds = new Float32Array(N + 1);
  bounds[0] = -Infinity;
  bounds[N] = Infinity;
  for (let t = 1; t < N; t++) {
    // Binary search over the float32s of [-1, 1] in order (near 0, (s + 1) drops s's low bits, so no closed form).
    let lo = orderOf(-1), hi = orderOf(1);
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if ((floatOfOrder(mid) + 1) * scale >= t) hi = mid;
      else lo = mid + 1;
    }
    bounds[t] = floatOfOrder(lo);
  }
  return bounds;
}

const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
/** A float32's rank among float32s: monotonic in its value (-0 and 0 both 0). */
function orderOf(x: number): number {
  f32[0] = x;
  const bits = u32[0];
  return bits >= 0x80000000 ? -(bits - 0x80000000) : bits;
}

function floatOfOrder(k: number): number {
  u32[0] = k >= 0 ? k : 0x80000000 + -k;
  return f32[0];
}

/** ctr/models/make.ts `extract`: MAKE's interest, hidden layers and logit from the vectors alone. */
function make(e: Emit, path: string, m: Make): { interest: string; hidden: string[]; logit: string } {
  const { g, inputs } = e;
  const v = inputs.vectors;
  // Padding, and behaviours without a vector, are masked out of MAKE's attention.
  const mask = g.op('Mul', [inputs.histMask, v.histHas], `${path}.mask`);
  const interest = attention(e, `${path}.interest`, m.interest, v.target, v.hist, mask);
  const { out, hidden } = mlp(e, `${path}.over`, m.over, g.op('Concat', [v.target, interest], `${path}.over_input`, { axis: 1 }));
  return { interest, hidden, logit: out };
}

function din(e: Emit, model: Din): string {
  const { g, inputs } = e;
  const config = model.config;
  const f = idFeatures(e, 'features', model.features);
  let { target, history } = f;
  if (config.vector) {
    target = g.op('Concat', [target, inputs.vectors.target], 'vector.target', { axis: 1 });
    history = g.op('Concat', [history, inputs.vectors.hist], 'vector.history', { axis: 2 });
  }
  const content = model.simtier || config.simScore ? simTier(e, 'simtier', model.simtier) : null;
  let interest = attention(e, 'interest', model.interest, target, history, inputs.histMask);
  if (config.simScore) {
    const weighted = pool(e, 'simscore', content!.sims, history);
    interest = g.op('Add', [interest, g.op('Mul', [weighted, e.w.constant('simscore_weight', [1])], 'simscore.scaled')], 'simscore.interest');
  }
  const parts = [...(f.user ? [f.user] : []), target, interest, ...(content?.tiers ? [content.tiers] : [])];
  let side: (string | null)[] = [];
  if (model.make) {
    const made = make(e, 'make', model.make);
    const join = config.make!.join;
    if (join.includes('interest')) parts.push(made.interest);
    side = besideLayers(config.mlpHidden.length, join, made.hidden, made.logit).map((pieces, i) =>
      pieces.length === 0 ? null : pieces.length === 1 ? pieces[0] : g.op('Concat', pieces, `make.beside${i}`, { axis: 1 }),
    );
  }
  const x = g.op('Concat', parts, 'over.input', { axis: 1 });
  return g.op('Squeeze', [mlp(e, 'over', model.over, x, side).out, g.ints([1])], 'logit_b');
}

function sumPooling(e: Emit, model: SumPooling): string {
  const { g, inputs } = e;
  const f = idFeatures(e, 'features', model.features);
  const axis1 = g.ints([1]);
  const pooled = g.op('Squeeze', [g.op('MatMul', [g.op('Unsqueeze', [inputs.histMask, axis1], 'pool.mask3'), f.history], 'pool.sum3'), axis1], 'pool.sum');
  // [H, d] -> [B, d]: the shared history (H = 1) serves every row.
  const perRow = g.op('Expand', [pooled, g.op('Shape', [f.target], 'pool.rows')], 'pool.per_row');
  const x = g.op('Concat', f.user ? [f.user, f.target, perRow] : [f.target, perRow], 'over.input', { axis: 1 });
  return g.op('Squeeze', [mlp(e, 'over', model.over, x).out, g.ints([1])], 'logit_b');
}

/** The model's vector width, when it reads item vectors. */
function vectorDimOf(model: CtrModel): number | null {
  if (model instanceof Din) return model.content?.dim ?? model.make?.content.dim ?? null;
  return null;
}

/** The whole model as one ONNX graph; `historyLength` is the L the model was trained with. */
export function exportOnnx(model: CtrModel, historyLength: number, name: string): OnnxGraph {
  if (!(model instanceof Din) && !(model instanceof SumPooling))
    throw new ExportError(`model '${model.config.model}' (${model.constructor.name})`, 'no ONNX emitter for this model kind (exportable: din with any of vector, simScore, simTier, make; sum-pooling)');
  const g = new GraphBuilder();
  const vectorDim = vectorDimOf(model);
  const inputs = new Inputs(g, historyLength, vectorDim);
  const e: Emit = { g, w: new Weights(g, model), inputs };
  const logit = model instanceof Din ? din(e, model) : sumPooling(e, model);
  const unread = e.w.unread();
  if (unread.length > 0) throw new ExportError(unread.join(', '), 'the exporter does not know the part these belong to, so the graph would score without it');
  g.output('logit', logit, ['B'], 'the model logit of each row');
  g.output('pctr', g.op('Sigmoid', [logit], 'pctr_b'), ['B'], 'sigmoid(logit): the predicted click probability of each row');
  const outputs: TensorSpec[] = [
    { name: 'logit', dtype: 'float32', shape: ['B'], meaning: 'the model logit of each row' },
    { name: 'pctr', dtype: 'float32', shape: ['B'], meaning: 'sigmoid(logit): the predicted click probability of each row' },
  ];
  const bytes = g.encode(name, `mmctr ${model.config.model} exported to ONNX`, { historyLength: String(historyLength), vectorDim: String(vectorDim ?? 0) });
  return { bytes, inputs: inputs.specs, outputs, vectorDim, historyLength, opset: OPSET };
}
