/**
 * What the service benchmarks share (not a benchmark itself): their numeric flags, `mmctr serve`
 * started in a child process and waited for, its CPU and memory as the OS sees them, and an
 * open-loop load generator on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { freePort } from '../src/util/net.js';
import { repoRoot } from '../src/util/paths.js';

/** The number after `--<name>` on the command line (non-negative), or `fallback`; exits with a message otherwise. */
export function numberFlag(args: readonly string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(args[i + 1]);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`--${name} takes a non-negative number, got '${args[i + 1]}'`);
    process.exit(2);
  }
  return n;
}

export interface ServerChild {
  url: string;
  port: number;
  child: ChildProcess;
  /** True once the process has exited (crashed, or killed). */
  exited(): boolean;
  /** Graceful stop (SIGTERM), resolved when the process is gone. */
  stop(): Promise<void>;
  /** kill -9, resolved when the process is gone. */
  kill(): Promise<void>;
}

/**
 * Starts `mmctr serve <args>` and waits until /readyz answers 200. The token travels in the
 * environment (MMCTR_TOKEN), never on the command line, where any user of the machine can read it.
 */
export async function startServer(
  args: string[],
  { token, port, output = 'inherit', prefix = [] }: { token: string; port?: number; output?: 'inherit' | 'ignore' | number; prefix?: string[] },
): Promise<ServerChild> {
  port ??= await freePort();
  // `prefix`: a command that runs the service (taskset -c 1, to pin it).
  const command = [...prefix, process.execPath, path.join(repoRoot(), 'bin', 'mmctr.js'), 'serve', '--port', String(port), ...args];
  return startHttpChild(command, port, { output, env: { MMCTR_TOKEN: token }, what: `mmctr serve ${args.join(' ')}` });
}

/**
 * The HTTP floor: a bare fastify server (no model, no hooks) answering POST /v1/rank with a
 * response of the shape and size `mmctr serve` gives (every candidate with a pCTR), and
 * process_cpu_seconds_total on GET /metrics. What any Node.js service pays per request for
 * HTTP, JSON and the loopback socket, measured beside the service in the same run.
 */
export async function startHttpFloor(): Promise<ServerChild> {
  const port = await freePort();
  const script = path.join(repoRoot(), 'dist', 'bench', 'http-floor.js');
  return startHttpChild([process.execPath, script, String(port)], port, { output: 'inherit', env: {}, what: 'the HTTP floor server' });
}

async function startHttpChild(command: string[], port: number, { output, env, what }: { output: 'inherit' | 'ignore' | number; env: Record<string, string>; what: string }): Promise<ServerChild> {
  const child = spawn(command[0], command.slice(1), { stdio: ['ignore', output, output], env: { ...process.env, ...env } });
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (exited) throw new Error(`${what} exited before it was ready`);
    const ok = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`${what} was not ready within 180 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const signal = (sig: NodeJS.Signals) => {
    if (!exited) child.kill(sig);
    return gone;
  };
  return { url, port, child, exited: () => exited, stop: () => signal('SIGTERM'), kill: () => signal('SIGKILL') };
}

/** A process's resident memory (MB) and CPU seconds so far (user + system), from /proc. */
export function processUsage(pid: number): { rssMb: number; cpuSeconds: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? NaN);
  // Fields 14 and 15 of /proc/<pid>/stat (after the parenthesised name) are utime and stime in clock ticks.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssMb: rssKb / 1024, cpuSeconds: ticks / 100 };
}

/** One Prometheus sample of the service (the first line matching `name` exactly, labels included). */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return Number(new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
}

export interface Sent {
  /** HTTP status, or null when no answer came (error, or no answer within the deadline). */
  status: number | null;
  /** ms from the request's scheduled departure to its answer (or to giving up). */
  ms: number;
}

/**
 * An open-loop load generator: request i leaves at start + i / rate whatever happened to the
 * earlier ones (autocannon's rate limit releases each second's requests in one burst, which
 * measures the burst, not the service). Latency counts from the scheduled departure, so a
 * generator that falls behind cannot hide server slowness (no coordinated omission). A request
 * not answered within `timeoutMs` is abandoned and recorded with status null.
 */
export async function openLoop(url: string, pathName: string, bodies: string[], perSecond: number, durationS: number, timeoutMs = 10_000): Promise<Sent[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
  const target = new URL(`${url}${pathName}`);
  const sent: Sent[] = [];
  const send = (body: string, scheduled: number) =>
    new Promise<void>((resolve) => {
      let done = false;
      const finish = (status: number | null) => {
        if (done) return;
        done = true;
        sent.push({ status, ms: performance.now() - scheduled });
        resolve();
      };
      const req = http.request(
        { agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on('end', () => finish(res.statusCode ?? null));
          res.on('error', () => finish(null));
        },
      );
      req.on('error', () => finish(null));
      // Counted from the scheduled departure: a request the generator sent late has less time.
      const timer = setTimeout(() => {
        finish(null);
        req.destroy();
      }, Math.max(0, scheduled + timeoutMs - performance.now()));
      req.on('close', () => clearTimeout(timer));
      req.end(body);
    });
  const total = Math.round(perSecond * durationS);
  const start = performance.now() + 10;
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = start + (i * 1000) / perSecond;
    const wait = scheduled - performance.now();
    // A timer may fire a millisecond late; that lateness is counted in the latency (conservative).
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(send(bodies[i % bodies.length], scheduled));
  }
  await Promise.all(inFlight);
  agent.destroy();
  return sent;
}

export const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
