/**
 * `mmctr experiment paper <config>`: the paper's comparison from one command. It builds what the
 * config asks for first (an ad world, SCL vectors pre-trained on it; both cached under runs/),
 * then trains and evaluates ID, Vector, SimScore, SimTier, MAKE and SimTier + MAKE over the
 * seeds and writes the report (HTML with charts, Markdown, JSON).
 */
import { Command } from 'commander';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { PaperExperimentConfig, readPaperConfig, runPaperExperiment } from '../ctr/experiment/paper.js';
import { PAPER_VARIANTS, PaperResult, PaperVariant } from '../ctr/experiment/result.js';
import { readSampleConfig } from '../data/sample-config.js';
import { embedItems, writeEmbeddings } from '../pretrain/export.js';
import type { SclConfig } from '../pretrain/config.js';
import { prepare, runExperiment } from '../pretrain/pipeline.js';
import { paperComparison, writePaperReport } from '../report/paper-report.js';
import { consoleSummary } from '../report/render.js';
import { MmctrError } from '../util/errors.js';
import { generateWorld, worldIsCurrent } from '../world/generate.js';
import { PRESET_NAMES, PresetName, worldParams } from '../world/params.js';
import { progressBar } from './progress.js';
import { loadAll, loadSclConfig } from './pretrain.js';
import { resolveStore } from './stores.js';

export type Log = (line: string) => void;

/** Generates the config's ad world unless the same one is already there; returns its folder. */
async function ensureWorld(world: NonNullable<PaperExperimentConfig['world']>, runsDir: string, log: Log): Promise<string> {
  if (!PRESET_NAMES.includes(world.preset as PresetName)) throw new MmctrError(`world.preset must be one of ${PRESET_NAMES.join(', ')}, got '${world.preset}'`);
  const params = worldParams(world.preset as PresetName, { seed: world.seed, catalog: world.catalog });
  const dir = path.join(runsDir, 'worlds', `${params.catalog}-${world.preset}-seed${world.seed}`);
  if (worldIsCurrent(dir, params)) {
    log(`ad world reused: ${dir}`);
    return dir;
  }
  const bar = progressBar('world');
  const s = await generateWorld(params, dir, (d, n) => bar.update(d, n, `day ${d}`));
  bar.stop();
  log(`ad world generated (${params.catalog}, ${world.preset}, seed ${world.seed}): ${s.items} items (${s.newItems} new), ${s.users} users, ${s.impressions} impressions, ${s.searches} searches`);
  return dir;
}

/** SCL pre-trained on the dataset's searches and every item embedded; cached by config and data. */
export async function ensureSclVectors(scl: SclConfig, specFile: string, runsDir: string, log: Log): Promise<string> {
  const key = createHash('sha256').update(JSON.stringify({ scl, spec: path.resolve(specFile), mtime: statSync(specFile).mtimeMs })).digest('hex').slice(0, 16);
  const file = path.join(runsDir, 'vectors', `scl-${key}.safetensors`);
  if (existsSync(file)) {
    log(`SCL vectors reused: ${file}`);
    return file;
  }
  const { data, table } = await loadAll(scl, specFile);
  const prep = prepare(scl, data.items, data.searches, table);
  const bar = progressBar('SCL');
  const res = runExperiment(scl, prep, ['scl'], { onProgress: (_m, p) => bar.update(p.step, p.steps, `loss ${p.loss.toFixed(4)} | ${p.pairsPerSec.toFixed(0)} pairs/s`) });
  bar.stop();
  const row = res.rows[0];
  log(`SCL trained on ${prep.mined.train.length} search -> purchase pairs; held-out top-1 ${(100 * row.all.top1).toFixed(1)} % among ${scl.eval.candidates} candidates`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeEmbeddings(file, data.items.map((it) => it.id), embedItems(res.trained.scl!.model, data.items, table), scl.model.outDim, { scl: JSON.stringify(scl), dataset: path.resolve(specFile) });
  log(`SCL vectors written: ${file}`);
  return file;
}

/** Resolves the config's data (world, store) and vectors (pretrain) to a built store and a vector file. */
export async function preparePaperInputs(config: PaperExperimentConfig, runsDir: string, log: Log): Promise<{ storeDir: string; description: string }> {
  let description = config.description ?? '';
  if (config.world) {
    const dir = await ensureWorld(config.world, runsDir, log);
    config.data.dataset ??= path.join(dir, 'dataset.json');
    config.data.samples ??= readSampleConfig(path.join(dir, 'sample-config.json'));
    description ||= `ad world (${config.world.catalog ?? 'preset'} catalogue, ${config.world.preset} preset, seed ${config.world.seed})`;
  }
  const storeDir = await resolveStore(config.data, process.cwd(), runsDir);
  if (!config.data.vectors) {
    if (!config.data.dataset) throw new MmctrError('pretrain needs a dataset with searches (data.dataset or a world); or give data.vectors');
    config.data.vectors = await ensureSclVectors(loadSclConfig(config.pretrain!.config, String(config.pretrain!.seed)), config.data.dataset, runsDir, log);
  }
  return { storeDir, description: description || config.data.dataset || config.data.adapter || storeDir };
}

/** The overall and new-item figures per variant, for the terminal. */
export function paperSummaryTable(r: PaperResult): string {
  return consoleSummary(paperComparison(r));
}

const list = (v: string) => v.split(',').map((x) => x.trim()).filter(Boolean);

export function registerExperiment(program: Command): void {
  const experiment = program.command('experiment').description('experiments that compare models end to end, with a report');
  experiment
    .command('paper <config>')
    .description('ID, Vector, SimScore, SimTier, MAKE, SimTier + MAKE on the same data and seeds; writes report.html/.md/.json')
    .option('--runs <dir>', 'where worlds, stores, vectors and runs are kept', 'runs')
    .option('--out <dir>', 'the experiment folder (default: <runs>/experiments/<name>-<time>)')
    .option('--seeds <list>', 'override the seeds (comma-separated)')
    .option('--variants <list>', `a subset of ${PAPER_VARIANTS.join(',')}`)
    .option('--curve-epochs <n>', 'epochs of the ID model for the one-epoch curve (0: skip)')
    .option('--json', 'print the result as one JSON object')
    .action(async (file: string, opts: { runs: string; out?: string; seeds?: string; variants?: string; curveEpochs?: string; json?: boolean }) => {
      const config = readPaperConfig(file);
      if (opts.seeds) config.seeds = list(opts.seeds).map((s) => {
        const n = Number(s);
        if (!Number.isSafeInteger(n) || n < 0) throw new MmctrError(`--seeds must list non-negative integers, got '${opts.seeds}'`);
        return n;
      });
      if (opts.variants) {
        const vs = list(opts.variants);
        for (const v of vs) if (!PAPER_VARIANTS.includes(v as PaperVariant)) throw new MmctrError(`--variants: unknown '${v}' (known: ${PAPER_VARIANTS.join(', ')})`);
        config.variants = vs as PaperVariant[];
      }
      if (opts.curveEpochs !== undefined) config.curveEpochs = Number(opts.curveEpochs);
      const log: Log = opts.json ? (line) => console.error(line) : (line) => console.log(line);
      const { storeDir, description } = await preparePaperInputs(config, opts.runs, log);
      const out = opts.out ?? path.join(opts.runs, 'experiments', `${config.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      let bar = progressBar('runs');
      const result = runPaperExperiment(config, storeDir, out, {
        dataDescription: description,
        onRun: (p) => {
          bar.stop();
          log(`[${p.index + 1}/${p.total}] seed ${p.seed}: ${p.variant}`);
          bar = progressBar(p.variant);
        },
        onProgress: (p) => bar.update(p.done, p.total, p.phase === 'train' ? `epoch ${p.epoch} loss ${p.loss?.toFixed(4)}` : `epoch ${p.epoch} evaluating`),
      });
      bar.stop();
      const files = await writePaperReport(result, out);
      if (opts.json) {
        console.log(JSON.stringify(result));
        return;
      }
      console.log(paperSummaryTable(result));
      for (const n of result.notes) console.log(`- ${n}`);
      console.log(`report: ${files.html} (also ${path.basename(files.markdown)}, ${path.basename(files.json)})`);
    });
}
