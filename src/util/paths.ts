/**
 * Where the project finds things: the package's own files (read only: configs, the native build)
 * and the home folder, where mmctr writes by default (its runs folder: runs, caches, the serve default). An
 * installed package's folder may be read-only or shared by every user, so nothing is written there.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (works from src/ via tsx and from dist/src/ once compiled). For reading bundled files only. */
export function repoRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  return path.resolve(here, up);
}

/** The installed package's version (its package.json). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

let home: string | null = null;

/** Sets the home folder (`mmctr --home <dir>`, before any command runs). */
export function setHomeDir(dir: string): void {
  home = path.resolve(dir);
}

/** Where mmctr writes what it builds for itself: `--home`, else MMCTR_HOME, else the working directory; resolved once. */
export function homeDir(): string {
  home ??= path.resolve(process.env.MMCTR_HOME || '.');
  return home;
}

/** The default runs folder: run folders, and the caches (worlds, stores, vectors, image features) they are built from. */
export function runsDir(): string {
  return path.join(homeDir(), 'runs');
}

/** Real data for benchmarks and evaluation: MMCTR_SHARED_DATA, else ../shared/data beside the repo. */
export function sharedDataDir(): string {
  return process.env.MMCTR_SHARED_DATA ?? path.resolve(repoRoot(), '..', 'shared', 'data');
}
