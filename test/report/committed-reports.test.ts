/** The reports committed under docs/reports re-render byte for byte from their report.json. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { PaperResult } from '../../src/ctr/experiment/result.js';
import { renderPaperHtml, renderPaperMarkdown } from '../../src/report/paper-report.js';
import { repoRoot } from '../../src/util/paths.js';

for (const name of ['paper-fashion', 'paper-movielens']) {
  test(`docs/reports/${name} re-renders byte for byte`, async () => {
    const dir = path.join(repoRoot(), 'docs', 'reports', name);
    const json = readFileSync(path.join(dir, 'report.json'), 'utf8');
    const result = JSON.parse(json) as PaperResult;
    assert.equal(JSON.stringify(result, null, 2) + '\n', json, 'report.json');
    assert.equal(renderPaperMarkdown(result), readFileSync(path.join(dir, 'report.md'), 'utf8'), 'report.md');
    assert.equal(await renderPaperHtml(result), readFileSync(path.join(dir, 'report.html'), 'utf8'), 'report.html');
  });
}
