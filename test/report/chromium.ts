/**
 * A report page opened in headless Chromium (Debian's `chromium`, which .ci/run installs) and
 * measured there: where the verdicts, the overall table and the charts are laid out, whether each
 * chart was drawn, what the page fetched and logged. No browser driver: a probe script is added to
 * a copy of the page, writes its measurements into the DOM on `load`, and `--dump-dom` prints them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const CHROMIUM = 'chromium';

/** Why the browser checks cannot run here, or null when Chromium answers. */
export function chromiumMissing(): string | null {
  const r = spawnSync(CHROMIUM, ['--version'], { encoding: 'utf8' });
  return r.error || r.status !== 0 ? `${CHROMIUM} is not installed (apt-get install chromium); the browser checks are skipped` : null;
}

export interface Box {
  /** Page coordinates (scroll offset added), in CSS pixels. */
  top: number;
  bottom: number;
  width: number;
  height: number;
}

export interface PageProbe {
  /** The viewport's height: what is on screen before any scrolling. */
  viewport: number;
  verdicts: Box | null;
  overall: Box | null;
  firstChart: Box | null;
  /** DOM order: the element comes before the first chart. */
  verdictsBeforeChart: boolean;
  overallBeforeChart: boolean;
  claims: string[];
  charts: { caption: string; drawn: Box | null; missing: string | null; errorText: boolean }[];
  /** Every URL the page fetched (file:// included). */
  resources: string[];
}

export interface Opened {
  probe: PageProbe;
  /** The page's console messages as Chromium logs them. */
  console: string[];
}

const MARK = 'mmctr-probe';

const PROBE = `<script>
addEventListener('load', () => {
  const box = (el) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return { top: r.top + scrollY, bottom: r.bottom + scrollY, width: r.width, height: r.height };
  };
  const before = (a, b) => Boolean(a && b && a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
  const figures = [...document.querySelectorAll('figure.chart')];
  const verdicts = document.getElementById('verdicts'), overall = document.getElementById('overall');
  const probe = {
    viewport: innerHeight,
    verdicts: box(verdicts), overall: box(overall), firstChart: box(figures[0]),
    verdictsBeforeChart: before(verdicts, figures[0]), overallBeforeChart: before(overall, figures[0]),
    claims: [...document.querySelectorAll('#verdicts .claim')].map((li) => li.textContent),
    charts: figures.map((f) => ({
      caption: f.querySelector('figcaption')?.textContent ?? '',
      drawn: box(f.querySelector('svg, canvas')),
      missing: f.querySelector('.missing')?.textContent ?? null,
      errorText: /error/i.test(f.textContent),
    })),
    resources: performance.getEntriesByType('resource').map((e) => e.name),
  };
  const out = document.createElement('pre');
  out.id = '${MARK}';
  // URI-encoded so the dumped DOM carries it without HTML escapes.
  out.textContent = encodeURIComponent(JSON.stringify(probe));
  document.body.append(out);
});
</script>`;

/** Opens `html` at `width` x `height` and returns the probe's measurements and the console. */
export function openInChromium(html: string, width = 1280, height = 800): Opened {
  if (!html.includes('</body>')) throw new Error('the page has no </body> to add the probe before');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mmctr-chromium-'));
  try {
    const page = path.join(dir, 'report.html');
    writeFileSync(page, html.replace('</body>', `${PROBE}\n</body>`));
    const args = [
      '--headless',
      // Root (CI containers) cannot use Chromium's sandbox.
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      `--user-data-dir=${path.join(dir, 'profile')}`,
      `--window-size=${width},${height}`,
      '--virtual-time-budget=5000',
      '--enable-logging=stderr',
      '--v=0',
      '--dump-dom',
      pathToFileURL(page).href,
    ];
    const r = spawnSync(CHROMIUM, args, { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 });
    if (r.error) throw r.error;
    const found = new RegExp(`<pre id="${MARK}">([^<]*)</pre>`).exec(r.stdout);
    if (!found) throw new Error(`chromium exited ${r.status} without the probe's output; stderr:\n${r.stderr}`);
    return { probe: JSON.parse(decodeURIComponent(found[1])) as PageProbe, console: r.stderr.split('\n').filter((line) => line.includes(':CONSOLE')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
