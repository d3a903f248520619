import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { DEFAULT_MEMORY_LIMIT, Duck } from '../../src/data/duck.js';

test('DuckDB runs under the memory limit and spills to a folder of its own, removed at close', async () => {
  const duck = await Duck.open();
  const limit = String(await duck.scalar(`SELECT current_setting('memory_limit')`));
  const spill = String(await duck.scalar(`SELECT current_setting('temp_directory')`));
  duck.close();
  assert.match(DEFAULT_MEMORY_LIMIT, /^1GB$/);
  // DuckDB reports the limit in its own units (953.6 MiB for 1GB).
  assert.match(limit, /^9\d\d\.\d MiB$|^1\.0 GiB$/, limit);
  assert.match(spill, /mmctr-duckdb-/);
  assert.equal(existsSync(spill), false, 'the spill folder is removed at close');
  const small = await Duck.open({ memoryLimit: '64MB' });
  assert.match(String(await small.scalar(`SELECT current_setting('memory_limit')`)), /^6\d\.\d MiB$/);
  small.close();
});
