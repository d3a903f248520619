/**
 * Where a training step's time goes: wraps every native kernel with a timer, runs a few steps
 * of each reference step (bench/steps.ts) and prints time per kernel, the time outside kernels
 * (JS, allocation) and garbage collection.
 *
 *   node dist/bench/profile.js [ctr|din|infonce ...] [--steps 5] [--gemm (time each GEMM shape)]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { native } from '../src/engine/native.js';
import { BenchStep, ctrStep, dinStep, infonceStep } from './steps.js';

const argv = process.argv.slice(2);
const stepsArg = argv.indexOf('--steps');
const STEPS = stepsArg >= 0 ? Number(argv[stepsArg + 1]) : 5;
const names = argv.filter((a, i) => !a.startsWith('--') && (stepsArg < 0 || i !== stepsArg + 1));
const detailGemm = argv.includes('--gemm');
const makers: Record<string, () => BenchStep> = { ctr: ctrStep, din: dinStep, infonce: infonceStep };

const totals = new Map<string, { ms: number; calls: number }>();
const table = native as unknown as Record<string, unknown>;
for (const [key, fn] of Object.entries(table)) {
  if (typeof fn !== 'function') continue;
  const f = fn as (...args: unknown[]) => unknown;
  table[key] = (...args: unknown[]) => {
    const t0 = process.hrtime.bigint();
    const r = f(...args);
    const dim = (v: unknown): string => (Number(v) > 20000 ? 'n' : String(v)); // DIN's pair count varies per step
    const label = key === 'gemm' && detailGemm ? `gemm ${args[0] ? 'T' : 'N'}${args[1] ? 'T' : 'N'} ${dim(args[2])}x${dim(args[3])}x${dim(args[4])}` : key;
    const e = totals.get(label) ?? { ms: 0, calls: 0 };
    e.ms += Number(process.hrtime.bigint() - t0) / 1e6;
    e.calls++;
    totals.set(label, e);
    return r;
  };
}

let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcMs += e.duration;
}).observe({ entryTypes: ['gc'] });

for (const name of names.length ? names : Object.keys(makers)) {
  const s = makers[name]();
  // As bench/engine.ts: until the allocator holds the step's working set.
  for (let i = 0; i < 5; i++) s.step();
  totals.clear();
  gcMs = 0;
  const faults0 = process.resourceUsage().minorPageFault;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < STEPS; i++) s.step();
  const faults = (process.resourceUsage().minorPageFault - faults0) / STEPS;
  await new Promise((r) => setTimeout(r, 0));
  const total = Number(process.hrtime.bigint() - t0) / 1e6 / STEPS;
  let inKernels = 0;
  console.log(`${name}: ${total.toFixed(1)} ms/step, ${faults.toFixed(0)} page faults/step`);
  for (const [k, v] of [...totals].sort((a, b) => b[1].ms - a[1].ms)) {
    inKernels += v.ms / STEPS;
    console.log(`  ${k.padEnd(22)} ${(v.ms / STEPS).toFixed(2).padStart(8)} ms  ${(v.calls / STEPS).toFixed(0).padStart(4)} calls`);
  }
  console.log(`  ${'outside kernels'.padEnd(22)} ${(total - inKernels).toFixed(2).padStart(8)} ms  (gc ${(gcMs / STEPS).toFixed(2)} ms)`);
}
