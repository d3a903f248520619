import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/engine/native.js';
import { RandomStream } from '../../src/engine/random.js';

type Backend = 'openblas' | 'builtin';
const HAVE_OPENBLAS = native.blasInfo().compiled === 'openblas';

/** Runs fn with each available backend, restoring the active one afterwards. */
function withBackends(fn: (backend: Backend) => void): void {
  const before = native.blasInfo().active;
  try {
    for (const b of (HAVE_OPENBLAS ? ['openblas', 'builtin'] : ['builtin']) as Backend[]) {
      assert.equal(native.setBlasBackend(b), true);
      assert.equal(native.blasInfo().active, b);
      fn(b);
    }
  } finally {
    native.setBlasBackend(before);
  }
}

interface GemmCase {
  ta: boolean;
  tb: boolean;
  m: number;
  n: number;
  k: number;
  alpha: number;
  beta: number;
  lda: number;
  ldb: number;
  ldc: number;
}

/** C = alpha op(A) op(B) + beta C in float64, plus a per-entry error bound for float32. */
function jsGemm(c: GemmCase, A: Float32Array, B: Float32Array, C0: Float32Array): { out: Float64Array; bound: Float64Array } {
  const out = Float64Array.from(C0);
  const bound = new Float64Array(C0.length);
  for (let i = 0; i < c.m; i++)
    for (let j = 0; j < c.n; j++) {
      let s = 0, mag = 0;
      for (let p = 0; p < c.k; p++) {
        const a = c.ta ? A[p * c.lda + i] : A[i * c.lda + p];
        const b = c.tb ? B[j * c.ldb + p] : B[p * c.ldb + j];
        s += a * b;
        mag += Math.abs(a * b);
      }
      const at = i * c.ldc + j;
      const prev = c.beta === 0 ? 0 : c.beta * C0[at];
      out[at] = c.alpha * s + prev;
      // Float32 accumulation: a few ulps per term of the magnitude sum.
      bound[at] = 1e-6 + 4e-6 * (Math.abs(c.alpha) * mag + Math.abs(prev)) * Math.max(1, Math.log2(c.k + 1));
    }
  return { out, bound };
}

function makeCase(rng: RandomStream, m: number, n: number, k: number, ta: boolean, tb: boolean, alpha: number, beta: number, pad = 0) {
  const lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  const c: GemmCase = { ta, tb, m, n, k, alpha, beta, lda, ldb, ldc };
  const A = rng.normal((ta ? k : m) * lda);
  const B = rng.normal((tb ? n : k) * ldb);
  const C0 = rng.normal(m * ldc);
  return { c, A, B, C0 };
}

function runGemm({ c, A, B, C0 }: ReturnType<typeof makeCase>): Float32Array {
  const C = C0.slice();
  native.gemm(c.ta, c.tb, c.m, c.n, c.k, c.alpha, A, c.lda, B, c.ldb, c.beta, C, c.ldc);
  return C;
}

function assertWithin(actual: Float32Array, ref: Float64Array, bound: Float64Array, what: string): void {
  for (let i = 0; i < ref.length; i++)
    if (!(Math.abs(actual[i] - ref[i]) <= bound[i])) assert.fail(`${what}[${i}]: got ${actual[i]}, expected ${ref[i]} ± ${bound[i]}`);
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [7, 13, 5],
  [65, 33, 129],
  // Crosses the built-in kernel's K (256) and N (1024) blocks.
  [3, 1030, 260],
];

test('gemm: OpenBLAS and built-in backends agree with a JS triple loop (odd shapes, all transposes, alpha, beta 0/1)', () => {
  const rng = new RandomStream(111);
  let cases = 0;
  for (const [m, n, k] of SHAPES)
    for (const ta of [false, true])
      for (const tb of [false, true])
        for (const [alpha, beta] of [
          [1, 0],
          [-0.75, 1],
          [2.5, 0],
          [1, 1],
        ]) {
          const big = m * n * k > 100_000;
          if (big && alpha === 1 && beta === 0 && (ta || tb)) continue; // the big shapes: 3 of 4 scalings per transpose pair
          const cs = makeCase(rng, m, n, k, ta, tb, alpha, beta);
          const { out, bound } = jsGemm(cs.c, cs.A, cs.B, cs.C0);
          const results: Partial<Record<Backend, Float32Array>> = {};
          withBackends((b) => {
            results[b] = runGemm(cs);
            assertWithin(results[b]!, out, bound, `${b} ${m}x${n}x${k} ta=${ta} tb=${tb} alpha=${alpha} beta=${beta}`);
          });
          if (results.openblas) {
            // The two backends round differently but agree to float32 precision.
            for (let i = 0; i < out.length; i++) assert.ok(Math.abs(results.openblas[i] - results.builtin![i]) <= 2 * bound[i]);
          }
          cases++;
        }
  assert.ok(cases >= 50);
});

test('gemm: padded leading dimensions leave the padding of C untouched', () => {
  const rng = new RandomStream(112);
  for (const [ta, tb] of [
    [false, false],
    [true, true],
    [true, false],
    [false, true],
  ] as const) {
    const cs = makeCase(rng, 9, 6, 11, ta, tb, 0.5, 1, 3);
    const { out, bound } = jsGemm(cs.c, cs.A, cs.B, cs.C0);
    withBackends((b) => {
      const C = runGemm(cs);
      assertWithin(C, out, bound, `${b} padded ta=${ta} tb=${tb}`);
      for (let i = 0; i < 9; i++) for (let j = 6; j < 9; j++) assert.equal(C[i * 9 + j], cs.C0[i * 9 + j], `${b}: padding of C was written`);
    });
  }
});

test('gemm: beta = 0 ignores whatever C held (NaN included); K = 0 only scales C', () => {
  withBackends((b) => {
    const C = new Float32Array(4).fill(NaN);
    native.gemm(false, false, 2, 2, 3, 1, new Float32Array(6).fill(1), 3, new Float32Array(6).fill(2), 2, 0, C, 2);
    assert.deepEqual([...C], [6, 6, 6, 6], b);
    const C2 = new Float32Array(4).fill(4);
    native.gemm(false, false, 2, 2, 0, 1, new Float32Array(1), 1, new Float32Array(2), 2, 0.5, C2, 2);
    assert.deepEqual([...C2], [2, 2, 2, 2], b);
  });
});

test('gemmBatched: both backends match per-batch JS products (serial and parallel paths, all transposes, strided)', () => {
  const rng = new RandomStream(113);
  for (const [batch, m, n, k, gap] of [
    [3, 4, 5, 6, 0],
    [2, 1, 1, 1, 0],
    [16, 20, 30, 40, 0],
    [5, 7, 3, 9, 5],
  ])
    for (const ta of [false, true])
      for (const tb of [false, true]) {
        const alpha = 1.5, beta = batch === 3 ? 1 : 0;
        const sA = m * k + gap, sB = k * n + gap, sC = m * n + gap;
        const A = rng.normal(batch * sA), B = rng.normal(batch * sB), C0 = rng.normal(batch * sC);
        const refs = Array.from({ length: batch }, (_, i) => {
          const c: GemmCase = { ta, tb, m, n, k, alpha, beta, lda: ta ? m : k, ldb: tb ? k : n, ldc: n };
          return jsGemm(c, A.subarray(i * sA, i * sA + m * k), B.subarray(i * sB, i * sB + k * n), C0.subarray(i * sC, i * sC + m * n));
        });
        withBackends((b) => {
          const C = C0.slice();
          native.gemmBatched(ta, tb, batch, m, n, k, alpha, A, sA, B, sB, beta, C, sC);
          refs.forEach(({ out, bound }, i) => assertWithin(C.subarray(i * sC, i * sC + m * n), out, bound, `${b} batch ${i} of ${batch} ${m}x${n}x${k} ta=${ta} tb=${tb}`));
          // The gaps between strided outputs are untouched.
          for (let i = 0; i < batch; i++) for (let j = m * n; j < sC; j++) assert.equal(C[i * sC + j], C0[i * sC + j]);
        });
      }
});

test('gemm/gemmBatched: short buffers throw RangeError naming the operand, not a crash', () => {
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => native.gemm(false, false, 2, 3, 4, 1, f(7), 4, f(12), 3, 0, f(6), 3), (e: unknown) => e instanceof RangeError && /A holds 7 elements, the kernel needs 8/.test(e.message));
  assert.throws(() => native.gemm(false, true, 2, 3, 4, 1, f(8), 4, f(11), 4, 0, f(6), 3), (e: unknown) => e instanceof RangeError && /B holds 11/.test(e.message));
  assert.throws(() => native.gemm(false, false, 2, 3, 4, 1, f(8), 4, f(12), 3, 0, f(5), 3), (e: unknown) => e instanceof RangeError && /C holds 5/.test(e.message));
  assert.throws(() => native.gemmBatched(false, false, 2, 2, 2, 2, 1, f(7), 4, f(8), 4, 0, f(8), 4), (e: unknown) => e instanceof RangeError && /A holds 7/.test(e.message));
});

test('native kernels: wrong typed-array types throw TypeError naming the argument', () => {
  const d = new Float64Array(4) as unknown as Float32Array;
  assert.throws(() => native.gemm(false, false, 2, 2, 2, 1, d, 2, new Float32Array(4), 2, 0, new Float32Array(4), 2), (e: unknown) => e instanceof TypeError && /'A' must be a Float32Array/.test(e.message));
  assert.throws(() => native.unary(0, [1, 2] as unknown as Float32Array, new Float32Array(2)), (e: unknown) => e instanceof TypeError && /'x'/.test(e.message));
  assert.throws(() => native.gatherRows(new Float32Array(4), 2, new Uint32Array(1) as unknown as Int32Array, new Float32Array(2)), (e: unknown) => e instanceof TypeError && /'ids'.*Int32Array/.test(e.message));
  assert.throws(() => native.adam(new Float32Array(2), new Float32Array(2), new Float32Array(2), null as unknown as Float32Array, 0.1, 0.9, 0.99, 1e-8, 0, false, 1), (e: unknown) => e instanceof TypeError && /'v'/.test(e.message));
  assert.throws(() => native.softmaxCrossEntropy(new Float32Array(4), 2, 2, new Float32Array(2) as unknown as Int32Array, null), (e: unknown) => e instanceof TypeError && /'targets'/.test(e.message));
});

test('native kernels: out-of-range ids and rows throw RangeError naming the index', () => {
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => native.gatherRows(f(6), 2, Int32Array.from([0, 2, 3]), f(6)), (e: unknown) => e instanceof RangeError && /ids\[2\] = 3 is outside the table's 3 rows/.test(e.message));
  assert.throws(() => native.scatterAddRows(f(4), 2, Int32Array.from([1, -4]), f(6)), (e: unknown) => e instanceof RangeError && /index\[1\] = -4/.test(e.message));
  assert.throws(() => native.uniqueInverse(Int32Array.from([3, 1, -2]), new Int32Array(3), new Int32Array(3)), (e: unknown) => e instanceof RangeError && /ids\[2\]/.test(e.message));
  assert.throws(() => native.sparseAdam(f(6), f(6), f(6), 2, Int32Array.from([1, 3]), f(4), 0.1, 0.9, 0.99, 1e-8, 0, 1), (e: unknown) => e instanceof RangeError && /row 3 is outside/.test(e.message));
  assert.throws(() => native.sparseAdagrad(f(6), f(6), 2, Int32Array.from([-1]), f(2), 0.1, 1e-8, 0), (e: unknown) => e instanceof RangeError && /row -1 is outside/.test(e.message));
});

test('native kernels: a zero or negative row width throws RangeError (it used to kill the process with SIGFPE)', () => {
  const f = (n: number) => new Float32Array(n);
  const ids = Int32Array.from([0]);
  for (const dim of [0, -2]) {
    // A negative width may trip an earlier size check first; either way a RangeError, no crash.
    const ok = (e: unknown) => e instanceof RangeError && (dim < 0 || /dim must be positive, got 0/.test(e.message));
    assert.throws(() => native.gatherRows(f(0), dim, ids, f(0)), ok);
    assert.throws(() => native.scatterAddRows(f(0), dim, ids, f(0)), ok);
    assert.throws(() => native.sparseAdam(f(0), f(0), f(0), dim, ids, f(0), 0.1, 0.9, 0.99, 1e-8, 0, 1), ok);
    assert.throws(() => native.sparseAdagrad(f(0), f(0), dim, ids, f(0), 0.1, 1e-8, 0), ok);
  }
});

test('native optimisers: buffers shorter than the parameter throw RangeError', () => {
  const f = (n: number) => new Float32Array(n);
  assert.throws(() => native.sgd(f(4), f(3), null, 0.1, 0, 0), (e: unknown) => e instanceof RangeError && /grad holds 3 elements, the kernel needs 4/.test(e.message));
  assert.throws(() => native.sgd(f(4), f(4), f(2), 0.1, 0.9, 0), (e: unknown) => e instanceof RangeError && /momentumBuf holds 2/.test(e.message));
  assert.throws(() => native.adam(f(4), f(4), f(4), f(1), 0.1, 0.9, 0.99, 1e-8, 0, false, 1), (e: unknown) => e instanceof RangeError && /v holds 1/.test(e.message));
});

test('uniqueInverse: distinct ids in order of first appearance and the inverse map', () => {
  const rng = new RandomStream(114);
  const ids = rng.ints(1000, 37);
  const unique = new Int32Array(1000), inverse = new Int32Array(1000);
  const count = native.uniqueInverse(ids, unique, inverse);
  const firstSeen: number[] = [];
  for (const id of ids) if (!firstSeen.includes(id)) firstSeen.push(id);
  assert.equal(count, firstSeen.length);
  assert.deepEqual([...unique.subarray(0, count)], firstSeen);
  for (let i = 0; i < 1000; i++) assert.equal(unique[inverse[i]], ids[i]);
  // Large ids hash without collisions going wrong.
  const big = Int32Array.from([2147483647, 0, 2147483647, 1 << 30, 0]);
  const n = native.uniqueInverse(big, unique, inverse);
  assert.equal(n, 3);
  assert.deepEqual([...inverse.subarray(0, 5)], [0, 1, 0, 2, 1]);
});

test('every thread that runs kernels uses the engine thread count for OpenBLAS, worker threads included', async () => {
  // A fresh process with 1 engine thread and OMP_NUM_THREADS unset: a thread that never set its
  // OpenMP count would take every core and fan each GEMM out over them.
  const { spawnSync } = await import('node:child_process');
  const nativeModule = new URL('../../src/engine/native.js', import.meta.url).href;
  const script = `
    import { Worker } from 'node:worker_threads';
    const { native } = await import(${JSON.stringify(nativeModule)});
    const main = native.blasInfo();
    const code = "import { parentPort } from 'node:worker_threads'; const { native } = await import(" + ${JSON.stringify(JSON.stringify(nativeModule))} + "); parentPort.postMessage(native.blasInfo());";
    const worker = new Worker(code, { eval: true });
    worker.once('message', (w) => { console.log(JSON.stringify({ main, worker: w })); worker.terminate(); });
  `;
  const env: NodeJS.ProcessEnv = { ...process.env, MMCTR_THREADS: '1' };
  delete env.OMP_NUM_THREADS;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const { main, worker } = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<'main' | 'worker', { threads: number; callerOmpThreads: number }>;
  assert.deepEqual([main.threads, main.callerOmpThreads], [1, 1]);
  assert.deepEqual([worker.threads, worker.callerOmpThreads], [1, 1], 'the worker thread sized its GEMMs by the engine setting');
});

test('native memory policy: with keepFreedMemory(false) and a trim, freed 10 MB blocks go back to the OS (a service; training keeps them mapped)', async () => {
  // In a fresh process: the policy is process-wide, and this test process trains models.
  const { spawnSync } = await import('node:child_process');
  const nativeModule = new URL('../../src/engine/native.js', import.meta.url).href;
  const script = `
    import { readFileSync } from 'node:fs';
    const { native } = await import(${JSON.stringify(nativeModule)});
    const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
    const churn = () => { for (let i = 0; i < 20; i++) { const b = new Uint8Array(10 << 20); b.fill(1); } };
    const grow = (keep) => { native.keepFreedMemory(keep); const before = rss(); churn(); globalThis.gc(); native.trimFreedMemory(); return rss() - before; };
    console.log(JSON.stringify({ service: grow(false), trimmed: typeof native.trimFreedMemory() }));
  `;
  const run = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const r = JSON.parse(run.stdout.trim().split('\n').pop()!) as { service: number; trimmed: string };
  assert.ok(r.service < 30, `RSS grew ${r.service.toFixed(0)} MB after 200 MB of 10 MB blocks were freed`);
  assert.equal(r.trimmed, 'boolean');
});
