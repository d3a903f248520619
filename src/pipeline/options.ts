/**
 * What every pipeline stage takes besides its recipe: where to say what it did (reused, built,
 * written) and, for long steps, a progress bar to drive (the CLI's on a terminal; none in the
 * benchmarks and tests).
 */
export interface Bar {
  update(done: number, total: number, info?: string): void;
  stop(): void;
}

export interface PipelineOptions {
  /** One line per step: what was reused, built or written. */
  log?: (line: string) => void;
  /** Makes the progress bar of a long step (label: what it does). */
  progress?: (label: string) => Bar;
}

/** Runs `work` with the bar `label` (stopped however `work` ends). */
export async function withBar<T>(options: PipelineOptions, label: string, work: (update: Bar['update']) => Promise<T> | T): Promise<T> {
  const bar = options.progress?.(label);
  try {
    return await work((done, total, info) => bar?.update(done, total, info));
  } finally {
    bar?.stop();
  }
}
