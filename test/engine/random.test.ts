import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { EngineError } from '../../src/engine/errors.js';
import { native } from '../../src/engine/native.js';
import { RandomStream } from '../../src/engine/random.js';

function moments(x: Float32Array): { mean: number; variance: number } {
  let s = 0;
  for (const v of x) s += v;
  const mean = s / x.length;
  let s2 = 0;
  for (const v of x) s2 += (v - mean) ** 2;
  return { mean, variance: s2 / x.length };
}

test('RandomStream: same seed, same numbers; another seed, other numbers', () => {
  const draw = (r: RandomStream) => [...r.uniform(50), ...r.normal(50), ...r.dropoutMask(50, 0.5), ...r.ints(50, 7), ...r.permutation(20), r.next()];
  const a = draw(new RandomStream(42));
  assert.deepEqual(draw(new RandomStream(42)), a);
  const b = draw(new RandomStream(43));
  assert.notDeepEqual(b, a);
  // Nearly all values differ, not just a few.
  assert.ok(a.slice(0, 50).filter((v, i) => v !== b[i]).length > 45);
});

test('RandomStream: draws are consecutive counters; state() / restore() reproduce the sequence', () => {
  const r = new RandomStream(7);
  const first = r.uniform(5);
  const second = r.uniform(5);
  assert.deepEqual([...new RandomStream(7).uniform(10)], [...first, ...second]);
  r.normal(3);
  // normal(n) consumes 2n counters (Box-Muller).
  assert.deepEqual(r.state(), { seed: 7, counter: 16 });
  const saved = r.state();
  const after = [...r.uniform(8), ...r.normal(8), ...r.permutation(9)];
  const restored = RandomStream.restore(saved);
  assert.deepEqual([...restored.uniform(8), ...restored.normal(8), ...restored.permutation(9)], after);
  assert.deepEqual(restored.state(), r.state());
});

test('RandomStream: forks are deterministic by name and differ from each other and the parent', () => {
  const root = new RandomStream(3);
  const a = root.fork('init'), a2 = new RandomStream(3).fork('init'), b = root.fork('dropout');
  assert.equal(a.seed, a2.seed);
  assert.deepEqual([...a.uniform(20)], [...a2.uniform(20)]);
  const ua = [...root.fork('init').uniform(20)], ub = [...b.uniform(20)], ur = [...new RandomStream(3).uniform(20)];
  assert.notDeepEqual(ua, ub);
  assert.notDeepEqual(ua, ur);
  assert.notEqual(new RandomStream(4).fork('init').seed, a.seed, 'fork depends on the parent seed');
  // Forks of forks stay valid seeds.
  let s = root;
  for (let i = 0; i < 10; i++) s = s.fork(`level${i}`);
  assert.ok(Number.isSafeInteger(s.seed) && s.seed >= 0);
});

test('RandomStream: uniform and normal moments are right; ranges hold', () => {
  const n = 100_000;
  const r = new RandomStream(11);
  const u = r.uniform(n);
  const mu = moments(u);
  // Uniform(0,1): mean 1/2 (std of the estimate 0.0009), variance 1/12; 5-sigma bounds.
  assert.ok(Math.abs(mu.mean - 0.5) < 0.005, `uniform mean ${mu.mean}`);
  assert.ok(Math.abs(mu.variance - 1 / 12) < 0.002, `uniform variance ${mu.variance}`);
  assert.ok(u.every((v) => v > 0 && v < 1));
  const w = r.uniform(1000, -3, 2);
  assert.ok(w.every((v) => v >= -3 && v < 2));
  const g = r.normal(n, 2, 3);
  const mg = moments(g);
  // N(2, 9): mean std 0.0095, variance std 9 * sqrt(2/n) = 0.04; 5-sigma bounds.
  assert.ok(Math.abs(mg.mean - 2) < 0.05, `normal mean ${mg.mean}`);
  assert.ok(Math.abs(mg.variance - 9) < 0.2, `normal variance ${mg.variance}`);
  // Tails: P(|z| > 3) = 0.0027.
  const tail = g.filter((v) => Math.abs(v - 2) > 9).length / n;
  assert.ok(tail > 0.0015 && tail < 0.004, `tail fraction ${tail}`);
  assert.ok(g.every(Number.isFinite));
});

test('RandomStream: uniform never returns 1 (the 24-bit draw at its largest value)', () => {
  // Counter 14790804 of seed 0 draws the largest 24-bit value, which rounded up to exactly 1.0
  // in float32 before the fix: next() promises [0, 1), and floor(next() * n) must stay < n.
  const u = new RandomStream(0, 14790804).next();
  assert.ok(u < 1, `next() returned ${u}`);
  assert.ok(u > 0.9999);
});

test('RandomStream: permutation is a permutation; ints are in range and roughly uniform', () => {
  const r = new RandomStream(12);
  for (const n of [0, 1, 2, 17, 1000]) {
    const p = r.permutation(n);
    assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  }
  const p = r.permutation(1000);
  assert.ok(p.filter((v, i) => v === i).length < 10, 'a shuffle leaves few fixed points (expected 1)');
  const counts = new Array<number>(10).fill(0);
  for (const v of r.ints(50_000, 10)) counts[v]++;
  // 5000 per value expected, std ~67.
  for (const c of counts) assert.ok(Math.abs(c - 5000) < 350, `ints histogram ${counts}`);
  // Every position of a 4-permutation takes each value about equally often.
  const pos = Array.from({ length: 4 }, () => new Array<number>(4).fill(0));
  for (let i = 0; i < 4000; i++) r.permutation(4).forEach((v, j) => pos[j][v]++);
  for (const row of pos) for (const c of row) assert.ok(Math.abs(c - 1000) < 150, `position histogram ${JSON.stringify(pos)}`);
});

test('RandomStream: dropout masks keep the right fraction, scaled by 1/keep', () => {
  const m = new RandomStream(13).dropoutMask(100_000, 0.8);
  const kept = m.filter((v) => v !== 0);
  assert.ok(kept.every((v) => Math.abs(v - 1.25) < 1e-6));
  assert.ok(Math.abs(kept.length / m.length - 0.8) < 0.007, `kept ${kept.length}`);
});

test('RandomStream: invalid seeds throw EngineError', () => {
  assert.throws(() => new RandomStream(-1), EngineError);
  assert.throws(() => new RandomStream(1.5), EngineError);
  assert.throws(() => new RandomStream(2 ** 60), EngineError);
});

test('RandomStream: the numbers do not depend on the thread count (child processes with MMCTR_THREADS)', () => {
  // Large enough to run in parallel (the kernels go parallel above 2^15 operations).
  const n = 200_000;
  const randomJs = fileURLToPath(new URL('../../src/engine/random.js', import.meta.url));
  const script = `
    const { RandomStream } = await import(${JSON.stringify(randomJs)});
    const { native } = await import(${JSON.stringify(fileURLToPath(new URL('../../src/engine/native.js', import.meta.url)))});
    const r = new RandomStream(99, 5);
    const parts = [r.uniform(${n}), r.normal(${n}), r.dropoutMask(${n}, 0.7)];
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256');
    for (const p of parts) hash.update(Buffer.from(p.buffer));
    process.stdout.write(JSON.stringify({ threads: native.blasInfo().threads, data: hash.digest('hex') }));
  `;
  const run = (threads: string) => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, MMCTR_THREADS: threads }, encoding: 'utf8' })) as { threads: number; data: string };
  const r = new RandomStream(99, 5);
  const hash = createHash('sha256');
  for (const p of [r.uniform(n), r.normal(n), r.dropoutMask(n, 0.7)]) hash.update(Buffer.from(p.buffer));
  const here = hash.digest('hex');
  for (const t of ['1', '3']) {
    const child = run(t);
    assert.equal(child.threads, Number(t), 'the child honoured MMCTR_THREADS');
    assert.ok(child.data === here, `MMCTR_THREADS=${t} drew different numbers than ${native.blasInfo().threads} threads`);
  }
});
