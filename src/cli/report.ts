/**
 * `mmctr report <runs...>`: trained runs compared side by side, grouped by experiment, mean ± std
 * over seeds per slice with gains over a baseline, charts; report.html / .md / .json.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { compareRuns } from '../ctr/experiment/runs.js';
import { consoleSummary } from '../report/render.js';
import { runComparison, writeRunReport } from '../report/run-report.js';
import { runsDir } from '../util/paths.js';
import { each, existingPath } from './options.js';

export function registerReport(program: Command): void {
  program
    .command('report')
    .argument('<paths...>', 'run folders, or folders holding them', each(existingPath('a run folder or a folder holding runs')))
    .description('compare trained runs (run folders, or folders holding them): mean ± std over seeds by slice, gains over a baseline, charts; writes report.html/.md/.json')
    .option('--baseline <name>', 'the experiment (config name) gains are measured against (default: the first found)')
    .option('--out <dir>', 'where to write the report (default: reports/report-<time> in the runs folder of the home, see --home)')
    .option('--json', 'print the comparison as one JSON object')
    .action(async (paths: string[], opts: { baseline?: string; out?: string; json?: boolean }) => {
      const result = compareRuns(paths, { baseline: opts.baseline });
      const out = opts.out ?? path.join(runsDir(), 'reports', `report-${result.createdAt.replace(/[:.]/g, '-')}`);
      const files = await writeRunReport(result, out);
      if (opts.json) {
        console.log(JSON.stringify(result));
        return;
      }
      console.log(consoleSummary(runComparison(result)));
      for (const note of result.notes) console.log(`note: ${note}`);
      console.log(`report: ${files.html} (also ${path.basename(files.markdown)}, ${path.basename(files.json)})`);
    });
}
