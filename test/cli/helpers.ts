/** Shared helper of the CLI tests (not a test file itself): run `mmctr` as a user does, in a child process. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../../src/util/paths.js';

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** Runs bin/mmctr.js with `args`. */
export function mmctr(...args: string[]): CliResult {
  return mmctrWith({}, ...args);
}

/** Runs bin/mmctr.js with `args` in a working folder and with extra environment. */
export function mmctrWith(options: { cwd?: string; env?: Record<string, string> }, ...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [path.join(repoRoot(), 'bin', 'mmctr.js'), ...args], { encoding: 'utf8', cwd: options.cwd, env: { ...process.env, ...options.env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
