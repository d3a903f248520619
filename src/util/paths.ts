/** Where the project finds things outside its own tree. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (works from src/ via tsx and from dist/src/ once compiled). */
export function repoRoot(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = here.includes(`${path.sep}dist${path.sep}`) ? '../../..' : '../..';
  return path.resolve(here, up);
}

/** Real data for benchmarks and evaluation: MMCTR_SHARED_DATA, else ../shared/data beside the repo. */
export function sharedDataDir(): string {
  return process.env.MMCTR_SHARED_DATA ?? path.resolve(repoRoot(), '..', 'shared', 'data');
}
