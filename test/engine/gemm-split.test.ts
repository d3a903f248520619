import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native, preferredBlasCore } from '../../src/engine/native.js';
import { RandomStream } from '../../src/engine/random.js';

// Products large enough for sgemm to split them across threads: by rows (M >= N), by columns
// (N > M) and along the reduction (K much longer than C is wide), checked against the built-in
// backend for every transpose combination, alpha, beta and padded leading dimensions.
const SHAPES: [string, number, number, number][] = [
  ['rows', 301, 45, 200],
  ['columns', 45, 301, 200],
  ['reduction', 30, 21, 4001],
];

for (const [split, m, n, k] of SHAPES) {
  test(`gemm split by ${split} (${m}x${n}x${k}) matches the built-in backend`, (t) => {
    if (native.blasInfo().compiled !== 'openblas' || native.blasInfo().threads < 2) {
      t.skip('needs OpenBLAS and at least 2 threads');
      return;
    }
    const rng = new RandomStream(17);
    for (const ta of [false, true])
      for (const tb of [false, true])
        for (const [alpha, beta] of [[1, 0], [0.5, 1]]) {
          const lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5;
          const A = rng.normal((ta ? k : m) * lda), B = rng.normal((tb ? n : k) * ldb), C0 = rng.normal(m * ldc);
          const run = (backend: 'openblas' | 'builtin'): Float32Array => {
            native.setBlasBackend(backend);
            const C = Float32Array.from(C0);
            native.gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
            return C;
          };
          const got = run('openblas'), want = run('builtin');
          native.setBlasBackend('openblas');
          for (let i = 0; i < m; i++)
            for (let j = 0; j < ldc; j++) {
              const at = i * ldc + j;
              if (j >= n) assert.equal(got[at], C0[at], 'padding of C is left untouched');
              else assert.ok(Math.abs(got[at] - want[at]) <= 1e-3 * Math.max(1, Math.abs(want[at])), `${ta}${tb} alpha ${alpha} beta ${beta} C[${i},${j}]: ${got[at]} vs ${want[at]}`);
            }
        }
  });
}

test('the AVX-512 OpenBLAS core is chosen for AMD AVX-512 CPUs only', () => {
  const cpu = (vendor: string, flags: string) => `processor\t: 0\nvendor_id\t: ${vendor}\nflags\t\t: ${flags}\n\nprocessor\t: 1\n`;
  const avx512 = 'fpu sse2 avx avx2 fma avx512f avx512dq avx512cd avx512bw avx512vl';
  assert.equal(preferredBlasCore(cpu('AuthenticAMD', avx512)), 'SkylakeX');
  assert.equal(preferredBlasCore(cpu('AuthenticAMD', 'fpu sse2 avx avx2 fma')), null);
  assert.equal(preferredBlasCore(cpu('AuthenticAMD', 'avx2 avx512f')), null, 'avx512f alone is not enough for the SkylakeX kernels');
  assert.equal(preferredBlasCore(cpu('GenuineIntel', avx512)), null, 'OpenBLAS detects Intel cores itself');
  assert.equal(preferredBlasCore(''), null);
});
