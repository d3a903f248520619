import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatRate, progressBar } from '../../src/cli/progress.js';

test('progress rates read in the units counted, with a dash before there is one', () => {
  assert.deepEqual([0, 0.42, 35.4, 9_400, 12_345, 3_400_000, Number.NaN].map(formatRate), ['-/s', '0.4/s', '35/s', '9400/s', '12.3k/s', '3.4M/s', '-/s']);
});

test('no bar is drawn when the output is not a terminal (as under the test runner, in CI or piped)', () => {
  assert.ok(!(process.stdout.isTTY && process.stderr.isTTY), 'this test runs with a redirected output');
  const writes: unknown[] = [];
  const original = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: unknown) => (writes.push(chunk), true)) as typeof process.stderr.write;
  try {
    const bar = progressBar('quiet');
    bar.update(1, 10, 'x');
    bar.update(10, 10);
    bar.stop();
  } finally {
    process.stderr.write = original;
  }
  assert.deepEqual(writes, []);
});
