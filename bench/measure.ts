/**
 * One owner of "run a phase in its own process and measure it": a command under GNU time
 * (/usr/bin/time), whose wall, CPU (user + system, the process and every child it waited for:
 * mpirun's ranks included) and peak RSS are its own, with the load average before and after, and
 * its last stdout line parsed as JSON. bench:scale and bench:distributed run their phases through it.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Measured {
  wall: number;
  cpu: number;
  rssMb: number;
  load: [string, string];
  out: unknown;
}

const load = () => os.loadavg()[0].toFixed(1);

/** Runs `command` under GNU time in `workDir` (its time file); exits the bench with the phase's output when it fails. */
export function measureCommand(bench: string, label: string, command: string[], workDir: string, env: Record<string, string> = {}): Measured {
  const timeFile = path.join(workDir, 'time.txt');
  const before = load();
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', timeFile, ...command], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, ...env } });
  if (r.error || r.status !== 0) {
    console.error(`${bench}: ${label} failed (exit ${r.status}${r.error ? `, ${r.error.message}: ${bench} needs GNU time at /usr/bin/time` : ''})\n${r.stdout}\n${r.stderr.slice(-4000)}`);
    process.exit(1);
  }
  const [wall, user, sys, kb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  const lines = r.stdout.trim().split('\n');
  for (const l of lines.slice(0, -1)) if (l.trim()) console.log(`    ${l}`);
  return { wall, cpu: user + sys, rssMb: kb / 1024, load: [before, load()], out: JSON.parse(lines[lines.length - 1]) };
}

/** `<what>: <extra>; wall, CPU, peak RSS (load average before -> after on N cores)`. */
export function measuredLine(what: string, m: Measured, extra: string): string {
  return `${what}: ${extra}; ${m.wall.toFixed(1)} s wall, ${m.cpu.toFixed(1)} s CPU, peak RSS ${Math.round(m.rssMb)} MB (load average ${m.load[0]} -> ${m.load[1]} on ${os.availableParallelism()} cores)`;
}
