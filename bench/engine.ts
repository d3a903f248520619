/**
 * Engine benchmark: GEMM through the matmul op against raw OpenBLAS, then the three reference
 * training steps (bench/steps.ts) against PyTorch-CPU running ../shared/bench/torch_reference.py
 * in the same run. Prints readable lines, and last one JSON object (with --json the readable
 * lines go to stderr, so stdout is the JSON alone).
 *
 *   npm run bench:engine [-- --json] [-- --steps 10] [-- --no-torch]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { blasCoreChosen, native } from '../src/engine/native.js';
import { matmul } from '../src/engine/ops/index.js';
import { RandomStream } from '../src/engine/random.js';
import { Tensor } from '../src/engine/tensor.js';
import { BenchStep, ctrStep, dinStep, infonceStep } from './steps.js';

const argv = process.argv.slice(2);
const jsonOnly = argv.includes('--json');
const skipTorch = argv.includes('--no-torch');
const stepsArg = argv.indexOf('--steps');
const STEPS = stepsArg >= 0 ? Number(argv[stepsArg + 1]) : 10;
const WARMUP = 5;
if (!(Number.isInteger(STEPS) && STEPS > 0)) throw new Error(`--steps needs a positive integer, got ${argv[stepsArg + 1]}`);

const say = (line: string): void => {
  if (jsonOnly) process.stderr.write(`${line}\n`);
  else console.log(line);
};

const seconds = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;

/** Best of `rounds` timings of `reps` calls, in seconds per call (the least disturbed run). */
function bestPerCall(fn: () => void, reps: number, rounds: number): number {
  for (let i = 0; i < reps; i++) fn();
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) fn();
    best = Math.min(best, seconds(t0) / reps);
  }
  return best;
}

interface GemmResult {
  op: number;
  raw: number;
}

function benchGemm(m: number, n: number, k: number): GemmResult {
  const rng = new RandomStream(1);
  const a = new Tensor(rng.uniform(m * k, -1, 1), [m, k]);
  const b = new Tensor(rng.uniform(k * n, -1, 1), [k, n]);
  const flops = 2 * m * n * k;
  const reps = Math.max(5, Math.round(1e10 / flops));
  const rounds = 5;
  const opTime = bestPerCall(() => void matmul(a, b), reps, rounds);
  let rawTime = Infinity;
  native.benchRawGemm(m, n, k, reps);
  for (let r = 0; r < rounds; r++) rawTime = Math.min(rawTime, native.benchRawGemm(m, n, k, reps));
  return { op: flops / opTime / 1e9, raw: flops / rawTime / 1e9 };
}

interface StepResult {
  samplesPerSecond: number;
  msPerStep: number;
  loss: number;
}

/**
 * Warm-up steps, then the mean over STEPS steps (the reference warms up once; the engine takes
 * WARMUP steps so that V8 has compiled the step and the allocator holds its working set).
 */
function benchStep(make: () => BenchStep): StepResult {
  const s = make();
  for (let i = 0; i < WARMUP; i++) s.step();
  const t0 = process.hrtime.bigint();
  let loss = NaN;
  for (let i = 0; i < STEPS; i++) loss = s.step();
  const perStep = seconds(t0) / STEPS;
  return { samplesPerSecond: s.batch / perStep, msPerStep: perStep * 1e3, loss };
}

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('bench: cannot find the repository root (no package.json above the bench)');
    dir = up;
  }
  return dir;
}

/** samples/s per step from the PyTorch reference, or the reason it could not run. */
function runTorch(): { figures: Record<string, number> } | { reason: string } {
  const python = '/usr/bin/python3';
  const script = path.resolve(repoRoot(), '..', 'shared', 'bench', 'torch_reference.py');
  if (!existsSync(script)) return { reason: `the reference script ${script} is absent` };
  if (!existsSync(python)) return { reason: `${python} is absent` };
  // The reference runs as documented: OpenBLAS single-threaded under torch's own threads, and
  // OpenBLAS's own core detection (not a core the engine chose for itself).
  const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: '1' };
  if (blasCoreChosen) delete env.OPENBLAS_CORETYPE;
  const r = spawnSync(python, [script, '--steps', String(STEPS)], {
    env,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.status !== 0) {
    const err = `${r.stderr ?? ''}`.trim().split('\n').slice(-1)[0] ?? '';
    return { reason: /No module named 'torch'/.test(r.stderr ?? '') ? 'python3-torch is not installed' : `the reference failed (${r.error?.message ?? err})` };
  }
  const lines = r.stdout.trim().split('\n');
  for (const line of lines.slice(0, -1)) say(`  ${line}`);
  try {
    return { figures: JSON.parse(lines[lines.length - 1]) as Record<string, number> };
  } catch {
    return { reason: `unreadable reference output: ${lines[lines.length - 1]}` };
  }
}

const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

const info = native.blasInfo();
say(`mmctr engine bench: ${info.active} (${info.config}), ${info.threads} threads, ${STEPS} timed steps after ${WARMUP} warm-up (torch: 1)`);
if (blasCoreChosen) say(`the engine chose OpenBLAS core ${blasCoreChosen} (OPENBLAS_CORETYPE was unset); the torch reference keeps OpenBLAS's own detection`);

const result: Record<string, number | string> = {};
say('gemm: the matmul op (output allocation included; the engine splits C across its threads, OpenBLAS single-threaded per part) vs raw cblas_sgemm (OpenBLAS threading), best of 5 rounds');
for (const [m, n, k] of [[1024, 1024, 1024], [4096, 256, 256]] as const) {
  const g = benchGemm(m, n, k);
  say(`gemm ${m}x${n}x${k}: matmul op ${g.op.toFixed(1)} GFLOP/s, raw sgemm ${g.raw.toFixed(1)} GFLOP/s (op/raw ${(g.op / g.raw).toFixed(3)})`);
  const suffix = m === 1024 ? '' : `_${m}x${n}x${k}`;
  result[`gemm${suffix}_gflops`] = round(g.op);
  result[`openblas${suffix}_gflops`] = round(g.raw);
  result[`gemm${suffix}_vs_openblas`] = round(g.op / g.raw, 3);
}

const steps: [string, () => BenchStep][] = [['ctr', ctrStep], ['din', dinStep], ['infonce', infonceStep]];
for (const [name, make] of steps) {
  const r = benchStep(make);
  say(`engine ${name}: ${r.msPerStep.toFixed(1)} ms/step, ${r.samplesPerSecond.toFixed(0)} samples/s, loss ${r.loss.toFixed(4)}`);
  result[`${name}_samples_per_s`] = Math.round(r.samplesPerSecond);
}

if (skipTorch) say('torch reference: skipped (--no-torch); no ratios');
else {
  const torch = runTorch();
  if ('reason' in torch) say(`torch reference: not run, ${torch.reason}; no ratios`);
  else {
    for (const [name] of steps) {
      const t = torch.figures[`${name}_samples_per_s`];
      if (!(t > 0)) continue;
      const ratio = (result[`${name}_samples_per_s`] as number) / t;
      result[`torch_${name}_samples_per_s`] = t;
      result[`${name}_vs_torch`] = round(ratio, 2);
      say(`${name}: engine / torch = ${ratio.toFixed(2)}x`);
    }
  }
}

console.log(JSON.stringify(result));
