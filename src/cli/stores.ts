/** Resolves an experiment's data section to a built store, with a progress bar while building. */
import { resolveStore as resolve, DataSection } from '../data/resolve.js';
import { ADAPTERS } from '../data/adapters/index.js';
import { progressBar } from './progress.js';

export async function resolveStore(data: DataSection, baseDir: string, runsDir: string): Promise<string> {
  const bar = progressBar('samples');
  try {
    return await resolve(data, baseDir, runsDir, ADAPTERS, (d, t) => bar.update(d, t));
  } finally {
    bar.stop();
  }
}
