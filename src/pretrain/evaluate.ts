/**
 * The one retrieval evaluation of pre-training: each held-out query ranks its target among N
 * candidates (the target + N - 1 distinct random catalogue items, drawn from a seeded stream,
 * the same candidates for every method; drawCandidates). Ties are broken uniformly at random in
 * expectation: a hit counts P(rank < k) (rankTargets). SCL reports top-1 and top-k for text
 * queries, photo queries and all on search -> purchase pairs, and in-session top-1; co-click
 * text vectors (coclick/run.ts) rank a clicked target for its earlier click, over all and cold
 * targets.
 *
 * Methods are Scorers. The 'raw' baseline, untrained: photo queries by cosine of the frozen
 * backbone features (query item's vs candidate's image; a candidate without an image scores 0);
 * text queries by cosine of hashed bag-of-n-gram counts (the same tokenizer ids the text tower
 * reads) between the query and the candidate's title. Everything learnt (SCL and its ablations,
 * the title <-> image projection) scores by the cosine of its L2-normalised vectors.
 */
import { noGrad } from '../engine/autograd.js';
import { RandomStream } from '../engine/random.js';
import { Tensor } from '../engine/tensor.js';
import { MmctrError } from '../util/errors.js';
import type { ItemInputs, SclModel, Side } from './model.js';
import type { Pair } from './pairs.js';
import { defaultTokenizer, Tokenizer } from './train.js';

export interface Scorer {
  name: string;
  /** What a reference row means, printed under the table. */
  note?: string;
  /** Scores of candidates (catalogue indices) for held-out query j. */
  score(j: number, candidates: Int32Array): ArrayLike<number>;
}

/** Top-1, top-K and mean reciprocal rank over n held-out queries (NaN when n = 0). */
export interface RetrievalFigures {
  n: number;
  top1: number;
  topK: number;
  mrr: number;
}

type TopFigures = Omit<RetrievalFigures, 'mrr'>;

export interface RetrievalRow {
  method: string;
  note?: string;
  text: TopFigures;
  image: TopFigures;
  all: TopFigures;
  /**
   * In-session retrieval (evaluateInSession): the bought item ranked among the items shown in
   * the same search (clicked ones included); only pairs with at least one other shown item.
   */
  session?: { n: number; top1: number; candidates: number };
}

/**
 * The candidate lists, [targets.length, N]: each query's target first, then N - 1 distinct
 * random catalogue items drawn from `rng`, never the target nor (with `queries`) the query's own
 * item. Every method is ranked on the same lists.
 */
export function drawCandidates(targets: ArrayLike<number>, items: number, N: number, rng: RandomStream, queries?: ArrayLike<number>): Int32Array {
  const room = queries ? items - 1 : items;
  if (N > room) throw new MmctrError(`retrieval needs ${N} candidates${queries ? ' besides the query' : ''} but the catalogue has only ${items} items`);
  const out = new Int32Array(targets.length * N);
  for (let j = 0; j < targets.length; j++) {
    const chosen = new Set<number>(queries ? [targets[j], queries[j]] : [targets[j]]);
    out[j * N] = targets[j];
    let at = 1;
    while (at < N) {
      for (const c of rng.ints(N, items)) {
        if (at >= N) break;
        if (chosen.has(c)) continue;
        chosen.add(c);
        out[j * N + at++] = c;
      }
    }
  }
  return out;
}

/**
 * Where the target (scores[0]) places among n candidates: how many score higher and how many
 * tie with it. Ties are broken uniformly at random in expectation (hitAt, reciprocalRank).
 */
export function targetRank(scores: ArrayLike<number>, n = scores.length): { greater: number; ties: number } {
  let greater = 0, ties = 0;
  for (let c = 1; c < n; c++) {
    if (scores[c] > scores[0]) greater++;
    else if (scores[c] === scores[0]) ties++;
  }
  return { greater, ties };
}

/** P(the target is among the first k). */
export function hitAt({ greater, ties }: { greater: number; ties: number }, k: number): number {
  return greater >= k ? 0 : Math.min(1, (k - greater) / (ties + 1));
}

/** 1 / rank, ties at random in expectation (approximately: rank = greater + ties / 2 + 1). */
export function reciprocalRank({ greater, ties }: { greater: number; ties: number }): number {
  return 1 / (greater + ties / 2 + 1);
}

/**
 * Ranks each of `queries` held-out queries' target among its N candidates ([queries, N], target
 * first) by the scorer, and averages top-1, top-K and MRR over each group the query belongs to.
 */
export function rankTargets<G extends string>(scorer: Scorer, queries: number, candidates: Int32Array, N: number, K: number, groups: readonly G[], groupsOf: (j: number) => readonly G[]): Record<G, RetrievalFigures> {
  const acc = new Map(groups.map((g) => [g, { n: 0, top1: 0, topK: 0, mrr: 0 }]));
  for (let j = 0; j < queries; j++) {
    const rank = targetRank(scorer.score(j, candidates.subarray(j * N, (j + 1) * N)), N);
    for (const g of groupsOf(j)) {
      const a = acc.get(g)!;
      a.n++;
      a.top1 += hitAt(rank, 1);
      a.topK += hitAt(rank, K);
      a.mrr += reciprocalRank(rank);
    }
  }
  const out = {} as Record<G, RetrievalFigures>;
  for (const [g, a] of acc) out[g] = { n: a.n, top1: a.n ? a.top1 / a.n : NaN, topK: a.n ? a.topK / a.n : NaN, mrr: a.n ? a.mrr / a.n : NaN };
  return out;
}

/** Search -> purchase retrieval: text queries, photo queries and all. */
export function evaluateRetrieval(scorer: Scorer, pairs: readonly Pair[], candidates: Int32Array, N: number, K: number): RetrievalRow {
  const f = rankTargets(scorer, pairs.length, candidates, N, K, ['text', 'image', 'all'], (j) => [pairs[j].kind, 'all']);
  const top = ({ n, top1, topK }: RetrievalFigures): TopFigures => ({ n, top1, topK });
  return { method: scorer.name, ...(scorer.note ? { note: scorer.note } : {}), text: top(f.text), image: top(f.image), all: top(f.all) };
}

/**
 * In-session retrieval: each held-out pair ranks its bought item among the other items shown in
 * the same search (Pair.shown: clicked-not-bought and shown-not-clicked alike). These are the
 * items the search engine already found relevant to the query, so this measures what random
 * candidates cannot: telling the item a user buys from the near matches they were shown and
 * clicked. Top-1 with the same random tie-break; pairs with no other shown item are skipped.
 * `candidates` is the mean list length (bought item included): top-1 of a random ranking is
 * about its inverse mean.
 */
export function evaluateInSession(scorer: Scorer, pairs: readonly Pair[]): { n: number; top1: number; candidates: number } {
  let n = 0, top1 = 0, cands = 0;
  pairs.forEach((p, j) => {
    const shown = p.shown ?? [];
    if (!shown.length) return;
    const c = Int32Array.from([p.pos, ...shown]);
    n++;
    cands += c.length;
    top1 += hitAt(targetRank(scorer.score(j, c)), 1);
  });
  return { n, top1: n ? top1 / n : NaN, candidates: n ? cands / n : NaN };
}

function unitRows(x: Float32Array, rows: number, dim: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let j = r * dim; j < (r + 1) * dim; j++) s += x[j] * x[j];
    const f = s > 0 ? 1 / Math.sqrt(s) : 0;
    for (let j = r * dim; j < (r + 1) * dim; j++) out[j] = x[j] * f;
  }
  return out;
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) s += a[ai * d + j] * b[bi * d + j];
  return s;
}

/** Every item's vectors under a model, in chunks, without the tape. */
export function encodeCatalogue(model: SclModel, inputs: ItemInputs, side: Side | 'text' | 'image' = 'fused', chunk = 1024): Float32Array {
  const d = model.config.outDim, out = new Float32Array(inputs.count * d);
  noGrad(() => {
    for (let start = 0; start < inputs.count; start += chunk) {
      const idx = Array.from({ length: Math.min(chunk, inputs.count - start) }, (_, r) => start + r);
      const s: Side = side === 'text' ? new Float32Array(idx.length).fill(1) : side === 'image' ? new Float32Array(idx.length) : side;
      out.set(model.encodeItems(inputs, idx, s).data, start * d);
    }
  });
  return out;
}

/** Query vectors of held-out pairs under a model. */
export function encodeQueries(model: SclModel, inputs: ItemInputs, pairs: readonly Pair[], tokenize: Tokenizer = defaultTokenizer): Float32Array {
  const d = model.config.outDim, L = inputs.maxTokens, F = inputs.featureDim, out = new Float32Array(pairs.length * d);
  const tok = tokenize(pairs.map((p) => p.text), L);
  noGrad(() => {
    for (let start = 0; start < pairs.length; start += 1024) {
      const end = Math.min(pairs.length, start + 1024);
      const text: number[] = [], image: number[] = [];
      for (let j = start; j < end; j++) (pairs[j].kind === 'text' ? text : image).push(j);
      if (text.length) {
        const ids = new Int32Array(text.length * L);
        text.forEach((j, r) => ids.set(tok.ids.subarray(j * L, (j + 1) * L), r * L));
        const v = model.encodeQueryText({ ids, lengths: text.map((j) => tok.lengths[j]) }, L).data;
        text.forEach((j, r) => out.set(v.subarray(r * d, (r + 1) * d), j * d));
      }
      if (image.length) {
        const f = new Float32Array(image.length * F);
        image.forEach((j, r) => f.set(inputs.features.subarray(pairs[j].queryItem * F, (pairs[j].queryItem + 1) * F), r * F));
        const v = model.encodeQueryImage(new Tensor(f, [image.length, F])).data;
        image.forEach((j, r) => out.set(v.subarray(r * d, (r + 1) * d), j * d));
      }
    }
  });
  return out;
}

/** A trained model as a scorer (cosine of unit vectors; keySide as in training). */
export function modelScorer(name: string, model: SclModel, inputs: ItemInputs, pairs: readonly Pair[], tokenize: Tokenizer = defaultTokenizer): Scorer {
  const d = model.config.outDim;
  const q = encodeQueries(model, inputs, pairs, tokenize);
  const modality = model.config.keySide === 'modality';
  const fused = modality ? null : encodeCatalogue(model, inputs, 'fused');
  const textSide = modality ? encodeCatalogue(model, inputs, 'text') : null;
  const imageSide = modality ? encodeCatalogue(model, inputs, 'image') : null;
  return {
    name,
    score(j, cands) {
      const items = fused ?? (pairs[j].kind === 'text' ? textSide! : imageSide!);
      return Float32Array.from(cands, (c) => dot(q, j, items, c, d));
    },
  };
}

/**
 * A table of unit item vectors ([items, dim]) as a scorer whose queries are items themselves
 * (a co-click pair's earlier click): cosine of the query item's vector and each candidate's,
 * in double precision.
 */
export function itemVectorScorer(name: string, vectors: Float32Array, dim: number, queryItems: ArrayLike<number>): Scorer {
  return { name, score: (j, cands) => Float64Array.from(cands, (c) => dot(vectors, queryItems[j], vectors, c, dim)) };
}

/** The untrained baseline (see the file comment). */
export function rawScorer(inputs: ItemInputs, pairs: readonly Pair[], tokenize: Tokenizer = defaultTokenizer): Scorer {
  const F = inputs.featureDim, L = inputs.maxTokens;
  const feats = unitRows(inputs.features, inputs.count, F);
  const bag = (ids: Int32Array, at: number, len: number) => {
    const m = new Map<number, number>();
    for (let t = 0; t < len; t++) m.set(ids[at + t], (m.get(ids[at + t]) ?? 0) + 1);
    let n = 0;
    for (const v of m.values()) n += v * v;
    return { m, norm: Math.sqrt(n) };
  };
  const titles = Array.from({ length: inputs.count }, (_, i) => bag(inputs.titleIds, i * L, inputs.titleLen[i]));
  const tok = tokenize(pairs.map((p) => p.text), L);
  return {
    name: 'raw',
    score(j, cands) {
      const p = pairs[j];
      if (p.kind === 'image') return Float32Array.from(cands, (c) => (inputs.imageMissing[c] || inputs.imageMissing[p.queryItem] ? 0 : dot(feats, p.queryItem, feats, c, F)));
      const qb = bag(tok.ids, j * L, tok.lengths[j]);
      return Float32Array.from(cands, (c) => {
        const t = titles[c];
        if (!t.norm || !qb.norm) return 0;
        let s = 0;
        for (const [id, v] of qb.m) s += v * (t.m.get(id) ?? 0);
        return s / (qb.norm * t.norm);
      });
    },
  };
}

/** A readable table of retrieval rows. */
export function formatTable(rows: readonly RetrievalRow[], K: number): string {
  const pct = (x: number) => (Number.isNaN(x) ? '   -  ' : `${(100 * x).toFixed(1).padStart(5)}%`);
  const withSession = rows.some((r) => r.session);
  const head = `${'method'.padEnd(10)} | ${'text top1'.padStart(9)} ${`top${K}`.padStart(7)} | ${'photo top1'.padStart(10)} ${`top${K}`.padStart(7)} | ${'all top1'.padStart(9)} ${`top${K}`.padStart(7)}${withSession ? ` | ${'session top1'.padStart(12)}` : ''}`;
  const lines = rows.map(
    (r) =>
      `${r.method.padEnd(10)} | ${pct(r.text.top1).padStart(9)} ${pct(r.text.topK).padStart(7)} | ${pct(r.image.top1).padStart(10)} ${pct(r.image.topK).padStart(7)} | ${pct(r.all.top1).padStart(9)} ${pct(r.all.topK).padStart(7)}` +
      (withSession ? ` | ${pct(r.session?.top1 ?? NaN).padStart(12)}` : ''),
  );
  const s0 = rows.find((r) => r.session)?.session;
  const n = rows[0]
    ? `(${rows[0].text.n} text, ${rows[0].image.n} photo queries${s0 ? `; in-session: ${s0.n} queries, ${s0.candidates.toFixed(1)} shown items each on average` : ''})`
    : '';
  const notes = rows.filter((r) => r.note).map((r) => `${r.method}: ${r.note}`);
  return [head, '-'.repeat(head.length), ...lines, n, ...notes].join('\n');
}
