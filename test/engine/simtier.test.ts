import assert from 'node:assert/strict';
import test from 'node:test';
import { simTierCounts, type SimTierInput } from '../../src/engine/ops/simtier.js';
import { RandomStream } from '../../src/engine/random.js';

/** A table of `rows` L2-normalised vectors of width `dim`, row 0 all zeros ("no vector"). */
function unitTable(rng: RandomStream, rows: number, dim: number): Float32Array {
  const table = new Float32Array(rows * dim);
  for (let r = 1; r < rows; r++) {
    const v = rng.normal(dim);
    const n = Math.hypot(...v);
    for (let d = 0; d < dim; d++) table[r * dim + d] = v[d] / n;
  }
  return table;
}

/** One ranking request's shape: B targets sharing one history of `len` behaviours (some without a vector). */
function sharedInput(rng: RandomStream, dim: number, B: number, L: number, len: number): SimTierInput {
  const rows = 1 + B + L;
  const table = unitTable(rng, rows, dim);
  const history = Int32Array.from({ length: L }, (_, l) => (l < len && l % 7 !== 3 ? 1 + B + l : 0));
  const hist = new Int32Array(B * L);
  for (let b = 0; b < B; b++) hist.set(history, b * L);
  // Targets without a vector: one inside a group of the shared kernel's rows, and the whole last group of three.
  const target = Int32Array.from({ length: B }, (_, b) => (b === 5 || b >= B - 3 ? 0 : 1 + b));
  return { table, dim, target, hist, histLen: new Int32Array(B).fill(len), length: L };
}

for (const dim of [128, 37]) {
  test(`simTier: a shared history (its own kernel) gives each sample's cosines as scoring it alone does (dim ${dim})`, () => {
    const rng = new RandomStream(11);
    const B = 43, L = 30, len = 27, tiers = 20;
    const input = sharedInput(rng, dim, B, L, len);
    const shared = simTierCounts(input, tiers, true);
    for (let b = 0; b < B; b++) {
      const alone = simTierCounts({ ...input, target: input.target.subarray(b, b + 1), hist: input.hist.subarray(b * L, (b + 1) * L), histLen: input.histLen.subarray(b, b + 1) }, tiers, true);
      // Summed in another order: the last bit may differ, and a tier with it only on a boundary.
      for (let l = 0; l < L; l++) assert.ok(Math.abs(shared.sims![b * L + l] - alone.sims![l]) <= 1e-6, `cosine of sample ${b}, behaviour ${l}`);
      assert.equal(shared.counts.subarray(b * tiers, (b + 1) * tiers).reduce((a, c) => a + c, 0), alone.counts.reduce((a, c) => a + c, 0), `behaviours counted for sample ${b}`);
    }
  });

  test(`simTier: a shared history's cosines match a double-precision reference and fill the tiers they fall in (dim ${dim})`, () => {
    const rng = new RandomStream(12);
    const B = 29, L = 20, len = 18, tiers = 8;
    const input = sharedInput(rng, dim, B, L, len);
    const { counts, sims } = simTierCounts(input, tiers, true);
    for (let b = 0; b < B; b++) {
      const expected = new Float32Array(tiers);
      const t = input.target[b];
      for (let l = 0; l < L; l++) {
        const r = input.hist[b * L + l];
        let dot = 0;
        if (t !== 0 && l < len && r !== 0) for (let d = 0; d < dim; d++) dot += input.table[t * dim + d] * input.table[r * dim + d];
        assert.ok(Math.abs(sims![b * L + l] - dot) < 1e-5, `cosine of sample ${b}, behaviour ${l}: ${sims![b * L + l]} vs ${dot}`);
        if (t !== 0 && l < len && r !== 0) expected[Math.min(tiers - 1, Math.floor((sims![b * L + l] + 1) * tiers / 2))]++;
      }
      assert.deepEqual(counts.subarray(b * tiers, (b + 1) * tiers), expected, `counts of sample ${b}`);
    }
    for (const b of [5, B - 3, B - 2, B - 1]) assert.equal(counts.subarray(b * tiers, (b + 1) * tiers).reduce((a, c) => a + c, 0), 0, `target ${b} has no vector: nothing counted`);
    assert.ok(counts.reduce((a, c) => a + c, 0) > 0, 'the other targets count their behaviours');
  });
}
