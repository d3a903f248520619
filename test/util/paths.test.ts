import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { homeDir, repoRoot, setHomeDir } from '../../src/util/paths.js';

test('home: MMCTR_HOME when set (resolved to an absolute path once), then --home (setHomeDir) over it', () => {
  const before = process.env.MMCTR_HOME;
  process.env.MMCTR_HOME = 'relative-home';
  try {
    assert.equal(homeDir(), path.resolve('relative-home'));
    process.env.MMCTR_HOME = 'changed-later';
    assert.equal(homeDir(), path.resolve('relative-home'), 'resolved once: the environment read at the first call');
    setHomeDir(os.tmpdir());
    assert.equal(homeDir(), os.tmpdir());
    assert.notEqual(homeDir(), repoRoot());
  } finally {
    if (before === undefined) delete process.env.MMCTR_HOME;
    else process.env.MMCTR_HOME = before;
  }
});
