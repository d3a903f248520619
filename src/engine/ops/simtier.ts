/**
 * SimTier histograms (constant inputs: item vectors are frozen, so there is no gradient here).
 * The native kernel reads target and behaviour vectors by row from one L2-normalised table; row 0
 * means "no vector" and, like padding beyond a history's length, is never counted.
 */
import { EngineError } from '../errors.js';
import { native } from '../native.js';

export interface SimTierInput {
  /** [rows, dim], L2-normalised rows; row 0 is all zeros ("no vector"). */
  table: Float32Array;
  dim: number;
  /** [B] row of each target. */
  target: Int32Array;
  /** [B, L] row of each behaviour. */
  hist: Int32Array;
  /** [B] real behaviours of each sample: positions [0, len) of its row of hist. */
  histLen: Int32Array;
  length: number;
}

/**
 * counts [B, tiers]: how many real behaviours fall in each of `tiers` equal tiers of [-1, 1] by
 * cosine to their target (tier of s = floor((s + 1) * tiers / 2), the last tier also holds 1);
 * with `withSims`, also each behaviour's cosine [B, L] (0 for padding or no vector).
 */
export function simTierCounts(input: SimTierInput, tiers: number, withSims = false): { counts: Float32Array; sims: Float32Array | null } {
  const { table, dim, target, hist, histLen, length } = input;
  if (dim < 1 || table.length % dim !== 0) throw new EngineError(`simTier: a table of ${table.length} values is not rows x ${dim}`);
  const B = target.length;
  const counts = new Float32Array(B * tiers);
  const sims = withSims ? new Float32Array(B * length) : null;
  native.simTier(table, table.length / dim, dim, target, hist, histLen, B, length, tiers, counts, sims);
  return { counts, sims };
}
