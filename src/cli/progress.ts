/**
 * Progress bars on stderr for long work, with the rate and the time left: quiet when the output
 * is not a terminal (CI logs, `--json | jq`, a redirected run), where a redrawn line is noise.
 */
import cliProgress from 'cli-progress';
import type { Bar } from '../pipeline/options.js';

/** Whether bars are drawn: both streams a terminal (MMCTR_PROGRESS=0 turns them off anyway). */
function interactive(): boolean {
  return Boolean(process.stderr.isTTY && process.stdout.isTTY) && process.env.MMCTR_PROGRESS !== '0';
}

/** "1.2k/s", "35/s", "0.4/s": the rate in the units the bar counts. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return '-/s';
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(1)}M/s`;
  if (perSecond >= 1e4) return `${(perSecond / 1e3).toFixed(1)}k/s`;
  return `${perSecond >= 10 ? Math.round(perSecond) : perSecond.toFixed(1)}/s`;
}

/** A bar that draws nothing (the ranks of a distributed run other than rank 0). */
export function quietBar(_label: string): Bar {
  return { update() {}, stop() {} };
}

export function progressBar(label: string): Bar {
  if (!interactive()) return quietBar(label);
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(10)} {bar} {percentage}% | {value}/{total} | {rate} | ETA {eta_formatted} | {info}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let t0 = 0;
  let first = 0;
  return {
    update(done, total, info = '') {
      if (!started) {
        bar.start(total, done, { info, rate: '-/s' });
        started = true;
        t0 = performance.now();
        first = done;
      }
      const seconds = (performance.now() - t0) / 1000;
      bar.setTotal(total);
      bar.update(done, { info, rate: formatRate(seconds > 0 ? (done - first) / seconds : 0) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
