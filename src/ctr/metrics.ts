/**
 * Evaluation metrics: AUC (exact, ties count one half), GAUC (per-user AUC weighted by the
 * user's impressions, over users with both labels), logloss, and the same by target-item
 * frequency bucket (new / rare / mid / head) and for new items.
 */

/** Exact AUC by ranking: tied scores share their average rank (Mann-Whitney U). NaN without both labels. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>, subset?: ArrayLike<number>): number {
  const idx = subset ? Array.from(subset) : Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((a, b) => scores[a] - scores[b]);
  let pos = 0;
  for (const i of idx) if (labels[i] > 0.5) pos++;
  const neg = idx.length - pos;
  if (pos === 0 || neg === 0) return Number.NaN;
  let rankSumPos = 0;
  for (let s = 0; s < idx.length; ) {
    let e = s;
    while (e + 1 < idx.length && scores[idx[e + 1]] === scores[idx[s]]) e++;
    const avgRank = (s + e) / 2 + 1;
    for (let k = s; k <= e; k++) if (labels[idx[k]] > 0.5) rankSumPos += avgRank;
    s = e + 1;
  }
  return (rankSumPos - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** Impression-weighted mean of per-user AUC over users that have both a click and a non-click. */
export function gauc(scores: ArrayLike<number>, labels: ArrayLike<number>, users: ArrayLike<number>, subset?: ArrayLike<number>): { gauc: number; users: number } {
  const byUser = new Map<number, number[]>();
  const idx = subset ?? Array.from({ length: scores.length }, (_, i) => i);
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    let list = byUser.get(users[i]);
    if (!list) byUser.set(users[i], (list = []));
    list.push(i);
  }
  let weighted = 0, weight = 0, counted = 0;
  for (const list of byUser.values()) {
    const a = auc(scores, labels, list);
    if (Number.isNaN(a)) continue;
    weighted += list.length * a;
    weight += list.length;
    counted++;
  }
  return { gauc: weight > 0 ? weighted / weight : Number.NaN, users: counted };
}

/** Mean binary cross-entropy of probabilities, clipped to [1e-7, 1 - 1e-7]. */
export function logloss(probs: ArrayLike<number>, labels: ArrayLike<number>, subset?: ArrayLike<number>): number {
  const idx = subset ?? Array.from({ length: probs.length }, (_, i) => i);
  if (idx.length === 0) return Number.NaN;
  let s = 0;
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    const p = Math.min(1 - 1e-7, Math.max(1e-7, probs[i]));
    s -= labels[i] > 0.5 ? Math.log(p) : Math.log(1 - p);
  }
  return s / idx.length;
}

export interface MetricSet {
  count: number;
  clicks: number;
  auc: number;
  gauc: number;
  gaucUsers: number;
  logloss: number;
}

export type Bucket = 'new' | 'rare' | 'mid' | 'head';
export const BUCKETS: Bucket[] = ['new', 'rare', 'mid', 'head'];

export function bucketOf(freq: number, rareMax: number, midMax: number): Bucket {
  return freq === 0 ? 'new' : freq <= rareMax ? 'rare' : freq <= midMax ? 'mid' : 'head';
}

export interface Evaluation {
  overall: MetricSet;
  buckets: Record<Bucket, MetricSet>;
  /**
   * The same metrics with the true click probabilities as scores, where the data has them (a
   * simulated world): the best any model can reach on this split.
   */
  oracle?: { overall: MetricSet; buckets: Record<Bucket, MetricSet> };
}

function metricSet(probs: ArrayLike<number>, labels: ArrayLike<number>, users: ArrayLike<number>, subset?: number[]): MetricSet {
  const idx = subset ?? Array.from({ length: probs.length }, (_, i) => i);
  let clicks = 0;
  for (const i of idx) if (labels[i] > 0.5) clicks++;
  const g = gauc(probs, labels, users, idx);
  return { count: idx.length, clicks, auc: auc(probs, labels, idx), gauc: g.gauc, gaucUsers: g.users, logloss: logloss(probs, labels, idx) };
}

/**
 * All metrics for predicted probabilities, overall and per frequency bucket; with `truth` (the
 * true click probabilities, NaN where unknown), also the oracle's metrics on the same samples.
 */
export function evaluatePredictions(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  users: ArrayLike<number>,
  freq: ArrayLike<number>,
  thresholds: { rareMax: number; midMax: number },
  truth?: ArrayLike<number> | null,
): Evaluation {
  const members: Record<Bucket, number[]> = { new: [], rare: [], mid: [], head: [] };
  for (let i = 0; i < probs.length; i++) members[bucketOf(freq[i], thresholds.rareMax, thresholds.midMax)].push(i);
  const all = (scores: ArrayLike<number>) => ({
    overall: metricSet(scores, labels, users),
    buckets: Object.fromEntries(BUCKETS.map((b) => [b, metricSet(scores, labels, users, members[b])])) as Record<Bucket, MetricSet>,
  });
  const out: Evaluation = all(probs);
  // The oracle only where every sample has its true probability (a partial key would mislead).
  if (truth && truth.length === probs.length && Array.prototype.every.call(truth, (p: number) => p >= 0 && p <= 1)) out.oracle = all(truth);
  return out;
}
