/**
 * bench:scale — how the single-machine path's cost grows with the log (issue 19). Two ad worlds
 * over the synthetic catalogue (preset `scale`, 50 impressions per user, 10 per item): a small
 * one (~1M impressions, 100k items, 20k users) and a large one (~10M impressions, 1M items,
 * 200k users). For each: the world (generated once, cached by pipeline/world.ts), `mmctr data
 * build` (rows/s, peak RSS), then DIN + SimTier + MAKE trained for a fixed number of steps
 * (samples/s end to end and inside the training loop, peak RSS). Every phase runs in its own
 * process under /usr/bin/time (GNU time): wall, CPU (user + system) and peak RSS are its own,
 * with the load average beside them. Last line with --json:
 * {"impressions_small", "impressions_large", "items_large", "build_rows_per_s_small",
 *  "build_rows_per_s_large", "train_samples_per_s_small", "train_samples_per_s_large",
 *  "peak_rss_mb_build_large", "peak_rss_mb_train_large", ...the rest of the breakdown}.
 *
 * Options: --impressions <n> (the large world, default 10,000,000), --small <n> (default
 * 1,000,000), --quick (100k and 1M), --steps <n> (training steps per store, default 300),
 * --threads <list> (engine threads to train with, e.g. 1,2; the last is the one reported),
 * --seed <n>, --runs <dir> (worlds are cached in <runs>/worlds, stores written to
 * <runs>/bench-scale; default: runs/ of the home folder).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorldRecipe } from '../src/pipeline/world.js';
import { repoRoot, runsDir } from '../src/util/paths.js';
import { Measured, measureCommand, measuredLine } from './measure.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const count = (name: string, fallback: number): number => {
  const v = opt(name) === undefined ? fallback : Number(opt(name));
  if (!Number.isInteger(v) || v <= 0) {
    console.error(`bench:scale: --${name} must be a positive integer, got '${opt(name)}'`);
    process.exit(2);
  }
  return v;
};
const quick = args.includes('--quick');
const large = count('impressions', quick ? 1_000_000 : 10_000_000);
const small = count('small', quick ? 100_000 : 1_000_000);
const steps = count('steps', 300);
const seed = count('seed', 1);
const threads = (opt('threads') ?? '').split(',').filter(Boolean).map(Number);
if (threads.some((t) => !Number.isInteger(t) || t < 1)) {
  console.error(`bench:scale: --threads must be a comma-separated list of positive integers, got '${opt('threads')}'`);
  process.exit(2);
}
const runs = path.resolve(opt('runs') ?? runsDir());
const root = repoRoot();
const work = path.join(runs, 'bench-scale');
mkdirSync(work, { recursive: true });
const t0 = performance.now();
const secs = () => ((performance.now() - t0) / 1000).toFixed(0);

const measure = (label: string, nodeArgs: string[], env: Record<string, string> = {}): Measured => measureCommand('bench:scale', label, [process.execPath, ...nodeArgs], work, env);
const line = (what: string, m: Measured, extra: string) => console.log(`[${secs()} s] ${measuredLine(what, m, extra)}`);

interface SizeResult {
  impressions: number;
  items: number;
  users: number;
  world: Measured & { generated: boolean };
  build: Measured & { rows: number };
  train: (Measured & { threads: string; samplesPerSecond: number; loopSamplesPerSecond: number; samplesPerCpuSecond: number })[];
}

function runSize(name: string, impressions: number): SizeResult {
  const recipe: WorldRecipe = { preset: 'scale', seed, overrides: { users: Math.max(1, Math.round(impressions / 50)), syntheticItems: Math.max(20, Math.round(impressions / 10)) } };
  const recipeFile = path.join(work, `${name}-recipe.json`);
  writeFileSync(recipeFile, JSON.stringify(recipe));
  const w = measure(`${name} world`, [path.join(root, 'dist', 'bench', 'scale-child.js'), 'world', recipeFile, runs]);
  const world = w.out as { specFile: string; sampleConfigFile: string; impressions: number; items: number; users: number; generated: boolean };
  const { generated } = world;
  line(`${name} world`, w, `${world.impressions.toLocaleString('en')} impressions, ${world.items.toLocaleString('en')} items, ${world.users.toLocaleString('en')} users${generated ? ' (generated)' : ' (reused)'}`);
  const store = path.join(work, `store-${name}`);
  rmSync(store, { recursive: true, force: true });
  const b = measure(`${name} data build`, [path.join(root, 'dist', 'src', 'cli', 'main.js'), 'data', 'build', world.specFile, '--config', world.sampleConfigFile, '--out', store, '--json']);
  const splits = (b.out as { splits: Record<string, { count: number }> }).splits;
  const rows = Object.values(splits).reduce((s, x) => s + x.count, 0);
  line(`${name} data build`, b, `${rows.toLocaleString('en')} samples, ${Math.round(rows / b.wall).toLocaleString('en')} rows/s`);
  const train = (threads.length ? threads.map(String) : ['']).map((t) => {
    const m = measure(`${name} train`, [path.join(root, 'dist', 'bench', 'scale-child.js'), 'train', store, String(steps)], t ? { MMCTR_THREADS: t } : {});
    const r = m.out as { samples: number; samplesPerSecond: number; loopSamplesPerSecond: number; prepSeconds: number; cpuSeconds: number };
    line(`${name} train${t ? ` (${t} thread${t === '1' ? '' : 's'})` : ''}`, m, `${steps} steps, ${r.samples.toLocaleString('en')} samples: ${Math.round(r.samplesPerSecond).toLocaleString('en')} samples/s end to end, ${Math.round(r.loopSamplesPerSecond).toLocaleString('en')} in the training loop, ${Math.round(r.samples / r.cpuSeconds).toLocaleString('en')} per CPU second (setup ${r.prepSeconds.toFixed(1)} s)`);
    return { ...m, threads: t || 'default', samplesPerSecond: r.samplesPerSecond, loopSamplesPerSecond: r.loopSamplesPerSecond, samplesPerCpuSecond: r.samples / r.cpuSeconds };
  });
  return { impressions: world.impressions, items: world.items, users: world.users, world: { ...w, generated }, build: { ...b, rows }, train };
}

console.log(`bench:scale: ${small.toLocaleString('en')} and ${large.toLocaleString('en')} impressions, ${steps} training steps per store${threads.length ? `, threads ${threads.join(', ')}` : ''}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.availableParallelism()} cores`);
const s = runSize('small', small);
const l = runSize('large', large);
const last = <T>(xs: T[]) => xs[xs.length - 1];
const r0 = (x: number) => Math.round(x);
const ratio = (a: number, b: number) => +(a / b).toFixed(3);
console.log(`\nlarge / small: build rows/s ${ratio(l.build.rows / l.build.wall, s.build.rows / s.build.wall)}, train samples/s ${ratio(last(l.train).samplesPerSecond, last(s.train).samplesPerSecond)} (in the loop ${ratio(last(l.train).loopSamplesPerSecond, last(s.train).loopSamplesPerSecond)})`);
const result: Record<string, number | string> = {
  impressions_small: s.impressions,
  impressions_large: l.impressions,
  items_large: l.items,
  build_rows_per_s_small: r0(s.build.rows / s.build.wall),
  build_rows_per_s_large: r0(l.build.rows / l.build.wall),
  train_samples_per_s_small: r0(last(s.train).samplesPerSecond),
  train_samples_per_s_large: r0(last(l.train).samplesPerSecond),
  peak_rss_mb_build_large: r0(l.build.rssMb),
  peak_rss_mb_train_large: r0(last(l.train).rssMb),
  users_large: l.users,
  train_loop_samples_per_s_small: r0(last(s.train).loopSamplesPerSecond),
  train_loop_samples_per_s_large: r0(last(l.train).loopSamplesPerSecond),
  train_samples_per_cpu_s_small: r0(last(s.train).samplesPerCpuSecond),
  train_samples_per_cpu_s_large: r0(last(l.train).samplesPerCpuSecond),
  peak_rss_mb_build_small: r0(s.build.rssMb),
  peak_rss_mb_train_small: r0(last(s.train).rssMb),
  // Per CPU second: on a shared machine, wall time measures the neighbours as well.
  build_rows_per_cpu_s_small: r0(s.build.rows / s.build.cpu),
  build_rows_per_cpu_s_large: r0(l.build.rows / l.build.cpu),
  train_threads: last(l.train).threads,
  load_avg: +os.loadavg()[0].toFixed(2),
  seconds: +secs(),
};
for (const [name, size] of [['small', s], ['large', l]] as const)
  if (size.world.generated) {
    result[`generate_s_${name}`] = +size.world.wall.toFixed(1);
    result[`peak_rss_mb_generate_${name}`] = r0(size.world.rssMb);
  }
for (const t of l.train.slice(0, -1)) result[`train_samples_per_s_large_${t.threads}_threads`] = r0(t.samplesPerSecond);
for (const t of s.train.slice(0, -1)) result[`train_samples_per_s_small_${t.threads}_threads`] = r0(t.samplesPerSecond);
if (args.includes('--json')) console.log(JSON.stringify(result));
else console.log(JSON.stringify(result, null, 2));
