/**
 * Open MPI for mmctr: the collectives addon (native/mpi.cc, built only where Open MPI's headers
 * were present at install), loaded on first use by a distributed run only. Every call blocks the
 * JS thread until all ranks have made it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { repoRoot } from '../util/paths.js';
import { DistributedError } from './errors.js';

type Buffer = Float32Array | Float64Array | Int32Array;

interface MpiAddon {
  init(): { rank: number; size: number; processor: string };
  allreduceSum(buffer: Buffer): void;
  allgatherv(send: Buffer, counts: Int32Array, out: Buffer): void;
  broadcast(buffer: Buffer, root: number): void;
  barrier(): void;
  abort(code: number): void;
  finalize(): void;
}

/** One process of an MPI job and the collectives over all of them (MPI_COMM_WORLD). */
export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** The host this rank runs on. */
  readonly processor: string;
  /** In place: every rank's buffer becomes the element-wise sum over ranks. */
  allreduceSum(buffer: Buffer): void;
  /** Every rank's `send` one after another in rank order; counts[r] is rank r's length. */
  allgatherv<T extends Buffer>(send: T, counts: Int32Array): T;
  /** Every rank's lengths (one value each), in rank order. */
  allgatherCounts(count: number): Int32Array;
  /** In place: every rank's buffer becomes root's. */
  broadcast(buffer: Buffer, root?: number): void;
  /** Rank 0's text on every rank. */
  broadcastText(text: string): string;
  barrier(): void;
  /** Ends every rank of the job: a rank that cannot go on must not leave the others waiting in a collective. */
  abort(code: number): never;
  finalize(): void;
}

const ADDON = path.join('build', 'Release', 'mmctr_mpi.node');

/** Why distributed training cannot run here, or null when the addon is built. */
export function mpiUnavailable(): string | null {
  return existsSync(path.join(repoRoot(), ADDON))
    ? null
    : `mmctr was built without MPI (${ADDON} is missing). Install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev), then rebuild the native addon: \`npm run install\` in a clone, \`npm rebuild mmctr\` for an installed package.`;
}

/** The first line of `mpirun --version`, or null where mpirun is not on the PATH. */
export function mpirunVersion(): string | null {
  const r = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0].trim() : null;
}

/** Why `mpirun -np N mmctr ... --distributed` cannot run here (the addon or mpirun missing), or null. */
export function distributedUnavailable(): string | null {
  return mpiUnavailable() ?? (mpirunVersion() ? null : 'mpirun is not on the PATH (Debian: apt-get install openmpi-bin)');
}

/** True when this process was started by mpirun / mpiexec (Open MPI sets these). */
export function launchedByMpirun(): boolean {
  return process.env.OMPI_COMM_WORLD_SIZE !== undefined || process.env.PMIX_RANK !== undefined;
}

let world: Communicator | null = null;

/** MPI_COMM_WORLD, initialising MPI on the first call. */
export function mpiWorld(): Communicator {
  if (world) return world;
  const missing = mpiUnavailable();
  if (missing) throw new DistributedError(missing);
  if (!launchedByMpirun()) throw new DistributedError('--distributed needs MPI to start the ranks: run it as `mpirun -np <ranks> mmctr train <config> --distributed` (docs/distributed.md)');
  const addon = createRequire(import.meta.url)(path.join(repoRoot(), ADDON)) as MpiAddon;
  const { rank, size, processor } = addon.init();
  const allgatherv = <T extends Buffer>(send: T, counts: Int32Array): T => {
    const out = new (send.constructor as new (n: number) => T)(counts.reduce((s, c) => s + c, 0));
    addon.allgatherv(send, counts, out);
    return out;
  };
  world = {
    rank,
    size,
    processor,
    allreduceSum: (b) => addon.allreduceSum(b),
    allgatherv,
    allgatherCounts: (count) => allgatherv(Int32Array.of(count), new Int32Array(size).fill(1)),
    broadcast: (b, root = 0) => addon.broadcast(b, root),
    broadcastText(text) {
      const bytes = rank === 0 ? new TextEncoder().encode(text) : new Uint8Array(0);
      const length = Int32Array.of(bytes.length);
      addon.broadcast(length, 0);
      const codes = rank === 0 ? Int32Array.from(bytes) : new Int32Array(length[0]);
      addon.broadcast(codes, 0);
      return new TextDecoder().decode(Uint8Array.from(codes));
    },
    barrier: () => addon.barrier(),
    abort(code) {
      addon.abort(code);
      process.exit(code);
    },
    finalize: () => addon.finalize(),
  };
  return world;
}
