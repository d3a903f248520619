/**
 * `mmctr data check | build | prepare | export-atomic`: validate a dataset, build its sample
 * store, write a built-in dataset (MovieLens, Taobao samples) or RecBole atomic files in
 * canonical form, or write a store back out as atomic files.
 */
import { Command } from 'commander';
import path from 'node:path';
import { ADAPTER_LIST, findAdapter, PreparedDataset } from '../data/adapters/index.js';
import { DEFAULT_CLICK_RATING, exportAtomic, prepareAtomic } from '../data/adapters/atomic.js';
import { SampleStore, samplingNote } from '../data/store.js';
import { Duck } from '../data/duck.js';
import { DataError } from '../data/errors.js';
import { DatasetSummary, ingest, ingestCatalogue, IngestReport, Problem, summarize, TableReport } from '../data/ingest.js';
import { readSampleConfig, SampleConfig, SPLITS } from '../data/sample-config.js';
import { buildSamples, samplePlan } from '../data/samples.js';
import type { StoreMeta } from '../data/store.js';
import { readDatasetSpec } from '../data/spec.js';
import { UsageError } from '../util/errors.js';
import { countNumber, existingDir, existingFile, number } from './options.js';
import { progressBar } from './progress.js';
import { z } from 'zod';

const isoTime = (t: number | null) => (t === null ? '-' : Number.isFinite(t) && Math.abs(t) < 8.64e12 ? new Date(t * 1000).toISOString().replace('.000Z', 'Z') : String(t));
const pct = (x: number | null) => (x === null ? '-' : x.toFixed(4));

export function formatProblem(p: Problem): string {
  const where = `${p.file}${p.line !== undefined ? `:${p.line}` : ''}${p.field ? ` field '${p.field}'` : ''}`;
  return `${where}: ${p.message}${p.value !== undefined ? ` (value '${p.value}')` : ''}${p.severity === 'warning' ? ' [warning]' : ''}`;
}

const UNIT_WORDS = { s: 'seconds', ms: 'milliseconds', us: 'microseconds' } as const;

function tableLines(name: string, t: TableReport): string[] {
  const lines = [`  ${name.padEnd(9)}${t.file} (${t.format}): ${t.rows} rows read, ${t.rowsUsed} used, ${t.rowsDropped} dropped`];
  if (t.time) lines.push(`             numbers in '${t.time.field}' read as epoch ${UNIT_WORDS[t.time.unit]} (${t.time.detected ? 'detected from their magnitude; set "timeUnit" in the spec to override' : 'timeUnit in the spec'})`);
  if (t.images) lines.push(`             images: ${t.images.named} named under ${t.images.root}: ${t.images.missing} missing, ${t.images.unreadable} unreadable`);
  for (const [kind, n] of Object.entries(t.problemCounts)) lines.push(`             ${String(n).padStart(7)} x ${kind}`);
  return lines;
}

/** "N of M item images missing or unreadable", or null when every named image can be read. */
function imageLine(t: TableReport | undefined): string | null {
  const bad = t?.images ? t.images.missing + t.images.unreadable : 0;
  return bad ? `${bad} of ${t!.images!.named} item images missing or unreadable (those items have no image)` : null;
}

function reportLines(report: { tables: Partial<IngestReport['tables']>; notes: string[] }, maxProblems: number): string[] {
  const out: string[] = ['files'];
  const tables = Object.entries(report.tables).filter((e): e is [string, TableReport] => e[1] !== undefined);
  for (const [name, t] of tables) out.push(...tableLines(name, t));
  const problems = tables.flatMap(([, t]) => t.examples);
  if (problems.length) {
    out.push(`first problems`);
    for (const p of problems.slice(0, maxProblems)) out.push(`  ${formatProblem(p)}`);
  }
  if (report.notes.length) {
    out.push('notes');
    for (const n of report.notes) out.push(`  - ${n}`);
  }
  return out;
}

function summaryLines(s: DatasetSummary): string[] {
  const types = Object.entries(s.events).map(([t, n]) => `${n} ${t}`).join(', ');
  return [
    'summary',
    `  users        ${s.users}`,
    `  items        ${s.items}`,
    `  events       ${types || 'none'}`,
    `  impressions  ${s.impressions}`,
    `  clicks       ${s.clicks} (CTR ${pct(s.ctr)})`,
    `  time         ${isoTime(s.tsMin)} .. ${isoTime(s.tsMax)}`,
  ];
}

function storeLines(dir: string, meta: StoreMeta): string[] {
  const c = meta.config;
  const split = c.split.kind === 'fraction' ? `fraction ${c.split.train}/${c.split.valid}/${+(1 - c.split.train - c.split.valid).toFixed(6)}` : `time (valid from ${isoTime(c.split.validStart)}, test from ${isoTime(c.split.testStart)})`;
  const out = [
    `store ${dir}`,
    `  ${meta.items} items, ${meta.users} users; history ${c.historyLength}, ties ${c.ties}, split ${split}`,
    `  split   samples    clicks  CTR     users  time`,
  ];
  for (const s of SPLITS) {
    const m = meta.splits[s];
    out.push(`  ${s.padEnd(6)}${String(m.count).padStart(9)} ${String(m.clicks).padStart(9)}  ${pct(m.count ? m.clicks / m.count : null)}  ${String(m.users).padStart(5)}  ${isoTime(m.tsMin)} .. ${isoTime(m.tsMax)}`);
  }
  if (meta.truth) out.push('  true click probabilities kept beside the samples (p_true.f32): evaluation reports the oracle; no model reads them');
  const sampled = samplingNote(meta);
  if (sampled) out.push(`  samples: ${sampled}`);
  return out;
}

/** What `data build` will make of the dataset, in one line. */
function planLine(plan: Awaited<ReturnType<typeof samplePlan>>, s: DatasetSummary): string {
  if (plan.kind === 'none') return `nothing: the dataset ${plan.reason}`;
  if (plan.kind === 'impressions') return `one sample per impression (${s.impressions})`;
  const how = plan.sampler === 'uniform' ? 'uniformly' : 'by popularity';
  return `no impressions: each of the ${s.events[plan.positiveType] ?? 0} ${plan.positiveType} events is a positive sample with ${plan.perPositive} negatives drawn ${how} over the items live at its time (sample config "negatives", seed ${plan.seed}); metrics will be on sampled candidates`;
}

const datasetFile = existingFile('a dataset spec (dataset.json)');
const sampleConfigFile = existingFile('a sample config (JSON)');

const droppedRows = (r: IngestReport) => Object.values(r.tables).reduce((n, t) => n + (t?.rowsDropped ?? 0), 0);

export function registerData(program: Command): void {
  const data = program.command('data').description('check datasets, build sample stores, prepare built-in datasets');

  data
    .command('check')
    .description('validate a dataset and summarise it (rows used and dropped, problems with file:line, counts, CTR)')
    .argument('<dataset>', 'dataset spec (dataset.json)', datasetFile)
    .option('--config <file>', 'sample config (its clickWindowSeconds labels impressions by click events)', sampleConfigFile)
    .option('--strict', 'exit with code 1 when any row was dropped')
    .option('--problems <n>', 'how many problems to list', countNumber, 20)
    .option('--json', 'machine-readable output')
    .action(async (file: string, opts: { config?: string; strict?: boolean; problems: number; json?: boolean }) => {
      const spec = readDatasetSpec(file);
      const config = opts.config ? readSampleConfig(opts.config) : SampleConfig.parse({});
      const duck = await Duck.open();
      try {
        if (!spec.events) {
          // A catalogue alone (for `mmctr encode`): its rows and image files.
          const items = await ingestCatalogue(duck, spec);
          const ok = items.rowsUsed > 0 && !(opts.strict && items.rowsDropped > 0);
          if (opts.json) console.log(JSON.stringify({ dataset: path.resolve(file), name: spec.name, ok, rowsDropped: items.rowsDropped, tables: { items }, notes: [] }));
          else {
            console.log(`dataset ${spec.name} (${path.resolve(file)}): an item catalogue, no events`);
            console.log(reportLines({ tables: { items }, notes: [] }, opts.problems).join('\n'));
            const images = imageLine(items);
            console.log(`result: ${items.rowsUsed} items usable, ${items.rowsDropped} dropped${images ? `; ${images}` : ''}`);
          }
          if (!ok) process.exitCode = 1;
          return;
        }
        const report = await ingest(duck, spec);
        const summary = await summarize(duck, config.clickWindowSeconds);
        const plan = await samplePlan(duck, config);
        const dropped = droppedRows(report);
        const usable = report.tables.events.rowsUsed > 0;
        const ok = usable && plan.kind !== 'none' && !(opts.strict && dropped > 0);
        if (opts.json) console.log(JSON.stringify({ dataset: path.resolve(file), name: spec.name, ok, rowsDropped: dropped, ...report, summary, build: plan }));
        else {
          console.log(`dataset ${spec.name} (${path.resolve(file)})`);
          console.log([...reportLines(report, opts.problems), ...summaryLines(summary), `build        ${planLine(plan, summary)}`].join('\n'));
          const images = imageLine(report.tables.items);
          const imageNote = images ? `; ${images}` : '';
          if (!usable) console.log('result: no usable event rows');
          else if (plan.kind === 'none') console.log('result: nothing to build samples from');
          else if (dropped > 0) console.log(`result: ${dropped} row${dropped === 1 ? '' : 's'} dropped${opts.strict ? ' (--strict: failing)' : ''}${imageNote}`);
          else console.log(`result: every row is usable${imageNote}`);
        }
        if (!ok) process.exitCode = 1;
      } finally {
        duck.close();
      }
    });

  data
    .command('build')
    .description('build the sample store of a dataset (one sample per impression, click histories, splits)')
    .argument('<dataset>', 'dataset spec (dataset.json)', datasetFile)
    .requiredOption('--out <dir>', 'the sample store folder to write (replaced if it is a store)')
    .option('--config <file>', 'sample config JSON (history length, ties, split, click window); defaults otherwise', sampleConfigFile)
    .option('--json', 'print the store summary as JSON')
    .action(async (file: string, opts: { out: string; config?: string; json?: boolean }) => {
      const spec = readDatasetSpec(file);
      const config = opts.config ? readSampleConfig(opts.config) : SampleConfig.parse({});
      const duck = await Duck.open();
      try {
        const report = await ingest(duck, spec);
        const dropped = droppedRows(report);
        if (report.tables.events.rowsUsed === 0) {
          for (const p of report.tables.events.examples.slice(0, 5)) console.error(`  ${formatProblem(p)}`);
          throw new DataError({ file: report.tables.events.file }, 'has no usable event rows: nothing to build (see `mmctr data check`)');
        }
        if (!opts.json) {
          if (dropped > 0) console.error(`${dropped} row${dropped === 1 ? '' : 's'} dropped while reading (\`mmctr data check ${file}\` lists them)`);
          for (const n of report.notes) console.error(`note: ${n}`);
        }
        const bar = progressBar('samples');
        let meta: StoreMeta;
        try {
          meta = await buildSamples(duck, spec.name, config, opts.out, (d, t) => bar.update(d, t));
        } finally {
          bar.stop();
        }
        const dir = path.resolve(opts.out);
        if (opts.json) console.log(JSON.stringify({ store: dir, rowsDropped: dropped, notes: report.notes, ...meta }));
        else console.log(storeLines(dir, meta).join('\n'));
      } finally {
        duck.close();
      }
    });

  data
    .command('prepare')
    .description(`write a dataset in canonical form (items.csv, events.csv, dataset.json, sample-config.json): a built-in one (${ADAPTER_LIST.map((a) => a.name).join(', ')}) or RecBole atomic files (atomic)`)
    .argument('<adapter>', 'movielens (movielens-100k), taobao (taobao-samples), or atomic (NAME.inter + NAME.item in --src: rating >= --click-rating a click, the MovieLens task)')
    .option('--src <dir>', 'source folder (default: the shared data folder; required for atomic)', existingDir('the source folder of the data'))
    .requiredOption('--out <dir>', 'folder to write the dataset to')
    .option('--name <stem>', 'movielens, atomic: the files\' stem (ml-1m for ml-1m.inter; default: the one NAME.inter in --src)')
    .option('--click-rating <r>', `atomic: a rating at or above this is a click (default ${DEFAULT_CLICK_RATING})`, number(z.number()))
    .option('--json', 'machine-readable output')
    .action(async (name: string, opts: { src?: string; out: string; name?: string; clickRating?: number; json?: boolean }) => {
      let prepared: PreparedDataset;
      if (name === 'atomic') {
        if (!opts.src) throw new UsageError('data prepare atomic needs --src (the folder of the atomic files; --name gives their stem, e.g. ml-1m for ml-1m.inter, when it holds several)');
        prepared = await prepareAtomic({ src: opts.src, name: opts.name, out: opts.out, clickRating: opts.clickRating });
      } else {
        const adapter = findAdapter(name);
        if (!adapter) throw new UsageError(`data prepare: '${name}' is not a known adapter: expected one of movielens, taobao, atomic (${ADAPTER_LIST.map((a) => a.name).join(', ')})`);
        prepared = await adapter.prepare({ src: opts.src, out: opts.out, name: opts.name });
      }
      if (opts.json) {
        console.log(JSON.stringify(prepared));
        return;
      }
      console.log(`${prepared.name} written to ${prepared.outDir}`);
      console.log(`  ${Object.entries(prepared.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
      for (const n of prepared.notes) console.log(`  note: ${n}`);
      console.log(`next: mmctr data build ${path.relative(process.cwd(), prepared.specFile) || prepared.specFile} --config ${path.relative(process.cwd(), prepared.sampleConfigFile)} --out <store>`);
    });

  data
    .command('export-atomic')
    .description('write a sample store\'s impressions as RecBole atomic files (NAME.inter, .item, .user: rating 5 = click, 1 = none; class = category), for RecBole-format tools such as FuxiCTR\'s harness')
    .argument('<store>', 'a built sample store folder', existingDir('a sample store folder (`mmctr data build`)'))
    .requiredOption('--out <dir>', 'folder to write the files to')
    .requiredOption('--name <stem>', 'the files\' stem (NAME.inter, ...)')
    .option('--json', 'machine-readable output')
    .action((store: string, opts: { out: string; name: string; json?: boolean }) => {
      const out = exportAtomic(SampleStore.open(store), opts.out, opts.name);
      if (opts.json) console.log(JSON.stringify(out));
      else {
        console.log(`${out.rows} impressions (${out.clicks} clicks), ${out.items} items, ${out.users} users written to ${out.dir}: ${Object.values(out.files).map((f) => path.basename(f)).join(', ')}`);
        for (const [what, indexed] of Object.entries(out.indexed)) if (indexed) console.log(`  note: the ${what}' ids are not all integers: written as their store indices (1-based)`);
        console.log(`read back: mmctr data prepare atomic --src ${opts.out} --name ${opts.name} --out <dataset folder>`);
      }
    });
}
