/**
 * bench:paper — the paper's comparison (ID, Vector, SimScore, SimTier, MAKE, SimTier + MAKE) on
 * the fashion ad world, one seed, through the same code as `mmctr experiment paper
 * configs/paper-fashion.json`: the world (cached in runs/worlds), SCL vectors pre-trained on its
 * searches (cached in runs/vectors; image features in runs/features), then the six models.
 * Prints the table and the paper's claims; last line:
 * {"gauc": {id, vector, simscore, simtier, make, simtier_make}, "gauc_new": {...}, "oracle_gauc", ...}
 * Options: --preset (default medium, so that it finishes in well under 15 minutes; the config's
 * bench preset is the full experiment), --seed <n>, --curve-epochs <n> (default 0 here),
 * --pretrain-config <file> (another SCL config for the vectors, e.g. configs/scl-fashion-colour.json), --json.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readPaperConfig, runPaperExperiment } from '../src/ctr/experiment/paper.js';
import { PAPER_VARIANTS } from '../src/ctr/experiment/result.js';
import { preparePaperInputs } from '../src/pipeline/paper.js';
import { paperSummaryTable, writePaperReport } from '../src/report/paper-report.js';
import { repoRoot, sharedDataDir } from '../src/util/paths.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
if (!existsSync(path.join(sharedDataDir(), 'fashion-products', 'items.csv'))) {
  console.error(`bench:paper needs the fashion catalogue at ${path.join(sharedDataDir(), 'fashion-products')} (set MMCTR_SHARED_DATA)`);
  process.exit(2);
}
const root = repoRoot();
const runs = path.join(root, 'runs');
const config = readPaperConfig(path.join(root, 'configs', 'paper-fashion.json'));
const seed = Number(opt('seed') ?? 1);
config.world = { ...config.world!, preset: opt('preset') ?? 'medium', seed };
config.pretrain = { ...config.pretrain!, seed, ...(opt('pretrain-config') ? { config: path.resolve(opt('pretrain-config')!) } : {}) };
config.seeds = [seed];
config.curveEpochs = Number(opt('curve-epochs') ?? 0);
config.name = `bench-paper-${config.world.preset}-seed${seed}${opt('pretrain-config') ? `-${path.basename(opt('pretrain-config')!, '.json')}` : ''}`;
const t0 = performance.now();
const log = (line: string) => console.log(`[${((performance.now() - t0) / 1000).toFixed(1)} s] ${line}`);
const { store, description } = await preparePaperInputs(config, runs, { log });
const out = path.join(runs, 'bench-paper', config.name);
const result = runPaperExperiment(config, store, out, { dataDescription: description, onRun: (p) => log(`${p.variant} (${p.index + 1}/${p.total})`) });
const files = await writePaperReport(result, out);
console.log(paperSummaryTable(result));
for (const n of result.notes) console.log(`- ${n}`);
console.log(`report: ${files.html}`);
const r5 = (x: number) => (Number.isFinite(x) ? Number(x.toFixed(5)) : null);
const overall = result.slices[0], fresh = result.slices.find((s) => s.slice === 'new');
const by = (s: typeof overall | undefined) => Object.fromEntries(PAPER_VARIANTS.map((v) => [v, s ? r5(s.summary[v].gauc.mean) : null]));
console.log(
  JSON.stringify({
    gauc: by(overall),
    gauc_new: by(fresh),
    oracle_gauc: r5(overall.oracle?.gauc ?? Number.NaN),
    oracle_gauc_new: r5(fresh?.oracle?.gauc ?? Number.NaN),
    auc: Object.fromEntries(PAPER_VARIANTS.map((v) => [v, r5(overall.summary[v].auc.mean)])),
    make_epochs: result.makeEpochs[0] ?? null,
    preset: config.world.preset,
    seconds: Math.round((performance.now() - t0) / 1000),
  }),
);
