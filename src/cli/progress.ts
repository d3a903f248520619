/** Progress bars on stderr for long work (silent when stderr is not a terminal, e.g. in CI). */
import cliProgress from 'cli-progress';
import type { Bar } from '../pipeline/options.js';

export function progressBar(label: string): Bar {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label.padEnd(10)} {bar} {percentage}% | {value}/{total} | {info}`, stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total, info = '') {
      if (!started) {
        bar.start(total, 0, { info });
        started = true;
      }
      bar.setTotal(total);
      bar.update(done, { info });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
