/**
 * Co-click pair mining from a sample store: a clicked sample's target with the last clicks of its
 * history (earlier clicks of the same user), per split; the training split's click counts (the
 * popularity reference, cold targets) and the withheld-items diagnostic.
 */
import type { SampleStore } from '../../data/store.js';
import type { SplitName } from '../../data/sample-config.js';
import { RandomStream } from '../../engine/random.js';

export interface CoClickPairs {
  /** Rows (catalogue index - 1) of the earlier click and of the clicked target. */
  a: Int32Array;
  b: Int32Array;
  /** Whether the target had no click in the training split (a cold item). */
  cold: Uint8Array;
  split: SplitName;
  stats: { samples: number; clicks: number; pairs: number; selfSkipped: number };
}

/**
 * Co-click pairs of one split of a sample store: for every clicked sample (label >= 0.5), its
 * target with each of the last `window` items of its history (the user's earlier clicks, most
 * recent last, 0 = padding). Pairs of an item with itself are skipped. `trainClicked` (rows with
 * a training click) marks cold targets.
 */
export function mineCoClicks(store: SampleStore, split: SplitName, window: number, trainClicked?: Uint8Array): CoClickPairs {
  const reader = store.split(split);
  const a: number[] = [], b: number[] = [], cold: number[] = [];
  const stats = { samples: reader.count, clicks: 0, pairs: 0, selfSkipped: 0 };
  try {
    const L = reader.historyLength;
    for (const batch of reader.batches({ batchSize: 8192 })) {
      for (let i = 0; i < batch.size; i++) {
        if (!(batch.label[i] >= 0.5)) continue;
        stats.clicks++;
        const t = batch.item[i], n = batch.histLen[i];
        for (let j = 1; j <= Math.min(window, n); j++) {
          const h = batch.hist[i * L + n - j];
          if (h <= 0) continue;
          if (h === t) {
            stats.selfSkipped++;
            continue;
          }
          a.push(h - 1);
          b.push(t - 1);
          cold.push(trainClicked && !trainClicked[t - 1] ? 1 : 0);
        }
      }
    }
  } finally {
    reader.close();
  }
  stats.pairs = a.length;
  return { a: Int32Array.from(a), b: Int32Array.from(b), cold: Uint8Array.from(cold), split, stats };
}

/** Clicks per row (catalogue index - 1) in the training split. */
export function trainClickCounts(store: SampleStore, items: number): Int32Array {
  const out = new Int32Array(items);
  const reader = store.split('train');
  try {
    for (const batch of reader.batches({ batchSize: 8192 })) for (let i = 0; i < batch.size; i++) if (batch.label[i] >= 0.5) out[batch.item[i] - 1]++;
  } finally {
    reader.close();
  }
  return out;
}

/** Marks round(share * items) catalogue rows, drawn from `seed` (the eval.holdOutItems diagnostic). */
export function withheldItems(items: number, share: number, seed: number): Uint8Array {
  const out = new Uint8Array(items);
  const n = Math.round(share * items);
  if (n > 0) for (const r of new RandomStream(seed).fork('withheld-items').permutation(items).subarray(0, n)) out[r] = 1;
  return out;
}

/** The pairs that touch no withheld item. */
export function dropItems(p: CoClickPairs, withheld: Uint8Array): CoClickPairs {
  const keep: number[] = [];
  for (let j = 0; j < p.a.length; j++) if (!withheld[p.a[j]] && !withheld[p.b[j]]) keep.push(j);
  return { ...p, a: Int32Array.from(keep, (j) => p.a[j]), b: Int32Array.from(keep, (j) => p.b[j]), cold: Uint8Array.from(keep, (j) => p.cold[j]), stats: { ...p.stats, pairs: keep.length } };
}
