/**
 * Assembling a service from command-line style options: which run, which index backend, which
 * item encoder, seeding the index with the catalogue's vectors. `mmctr serve`, the bench and the
 * tests all start services through here, so they run the same thing.
 */
import path from 'node:path';
import { readVectorFile, vectorSpaceMismatch, type VectorFile } from '../encoders/vector-file.js';
import { closeIndex, loadVectorsInto, openIndex, OpenedIndex } from '../index/index.js';
import type { FsyncPolicy, VectorPrecision } from '../index/index.js';
import { readExperimentConfig, readRunVectorSpace, VECTOR_SPACE_FILE } from '../ctr/run.js';
import { MmctrError } from '../util/errors.js';
import { DEFAULT_LIMITS, RankingService, type Limits } from './app.js';
import { RedisBehaviourStore } from './behaviours.js';
import { ensureDefaultModel } from './default-model.js';
import { HashedTitleEncoder, ItemEncoder, SclItemEncoder, TitleColourEncoder } from './item-encoder.js';
import type { ServingBackend } from './model-state.js';

export interface StartOptions {
  /** Run folder; absent: the built-in default (built on first use). */
  run?: string;
  /** Item vectors to seed an empty index with (default: the default's, or the run's data.vectors). */
  vectors?: string;
  /** Serve even when the seed vectors are not in the vector space the run was trained in (warned loudly); default false: refused. */
  allowVectorSpaceMismatch?: boolean;
  /** Embedded snapshot file (default: index.safetensors beside the run); null: memory only. */
  indexFile?: string | null;
  redis?: string;
  prefix?: string;
  precision?: VectorPrecision;
  /** 'title-colour[:seed]', 'hashed-title[:seed]', 'none', or an SCL model file (scl:<file> or a path ending in .safetensors). */
  encoder?: string;
  token: string | null;
  log?: false | string;
  /** Where the JSON log lines go (default stdout). */
  logStream?: { write(line: string): void };
  ingestWorkers?: number;
  ann?: boolean;
  rankThreads?: number;
  /** What scores a batch (default: the native engine). */
  backend?: ServingBackend;
  limits?: Partial<Limits>;
  /** Embedded: when the journals reach the disk (always / everysec / no; default always). */
  fsync?: FsyncPolicy;
  /** Runs a reload may name (default: the folder holding the run). */
  runsRoot?: string;
  /** Seconds between looks at the run folder for new weights (a stream trainer's publications); 0 / absent: never. */
  watchSeconds?: number;
  /** Where the default is built (tests). */
  defaultDir?: string;
  say?: (line: string) => void;
}

/** The item encoder an --encoder spec names, at the index's width (`mmctr serve` and its workers). */
export async function openEncoder(spec: string, dim: number): Promise<ItemEncoder | null> {
  if (spec === 'none') return null;
  const m = /^(hashed-title|title-colour)(?::(\d+))?$/.exec(spec);
  if (m) return m[1] === 'hashed-title' ? new HashedTitleEncoder(dim, m[2] ? Number(m[2]) : 1) : new TitleColourEncoder(dim, m[2] ? Number(m[2]) : 1);
  const file = spec.startsWith('scl:') ? spec.slice(4) : spec;
  if (!file.endsWith('.safetensors')) throw new MmctrError(`--encoder must be title-colour, hashed-title, none, or an SCL model file (.safetensors), got '${spec}'`);
  return SclItemEncoder.open(file);
}

/**
 * The seed vectors must live in the space the run's model was trained in (its SimTier and MAKE
 * read cosines of those vectors): otherwise refused, or with the override warned loudly.
 */
function checkVectorSpace(run: string, seed: VectorFile | null, allow: boolean, say: (line: string) => void): void {
  const trained = seed ? readRunVectorSpace(run) : null;
  if (!seed || !trained) return;
  const problem = vectorSpaceMismatch(trained, seed.space);
  if (!problem) return;
  const where = trained.recorded ? `${path.join(run, VECTOR_SPACE_FILE)} records ${trained.file}` : `the run's data.vectors is ${trained.file}`;
  const what = `${seed.file} is not in the vector space the run was trained in: ${problem}. ${where}`;
  if (!allow) throw new MmctrError(`${what}. Serve the vectors the run was trained with (leave out --vectors), train a run on these vectors, or pass --allow-vector-space-mismatch to serve them anyway (scores will be wrong wherever the model reads the vectors)`);
  say(`WARNING: ${what}. Serving anyway (--allow-vector-space-mismatch): the model's SimTier and MAKE read cosines in a space they were not trained in, so its scores are not the trained model's.`);
}

/** Seeds the index with a vector file when the index is empty. */
async function seedIndex(opened: OpenedIndex, vectors: VectorFile | null, say: (line: string) => void): Promise<void> {
  const n = await opened.index.size();
  if (n > 0 || !vectors) {
    say(`index: ${opened.index.backend}, ${n} items${n > 0 && vectors ? ` (already seeded: ${vectors.file} not loaded)` : ''}`);
    return;
  }
  const t = Date.now();
  const loaded = await loadVectorsInto(opened.index, vectors);
  await opened.index.flush();
  const empty = vectors.ids.length - loaded;
  say(`index: ${opened.index.backend}, seeded with ${loaded} item vectors from ${vectors.file} (${vectors.source}) in ${Date.now() - t} ms${empty ? `; ${empty} all-zero rows (items without a vector) left out` : ''}`);
}

export async function startService(options: StartOptions): Promise<{ service: RankingService; opened: OpenedIndex; run: string }> {
  const say = options.say ?? (() => {});
  let run = options.run, vectors = options.vectors, encoderSpec = options.encoder;
  if (!run) {
    const manifest = await ensureDefaultModel({ dir: options.defaultDir, log: say });
    run = manifest.run;
    vectors ??= manifest.vectors;
    encoderSpec ??= manifest.encoder.kind === 'title-colour' ? `title-colour:${manifest.encoder.seed}` : manifest.encoder.model;
  } else {
    vectors ??= readExperimentConfig(path.join(run, 'config.json')).data.vectors;
  }
  // The index's width: from the seed vectors if any, else the encoder's default 128.
  const seed = vectors ? readVectorFile(vectors) : null;
  checkVectorSpace(run, seed, options.allowVectorSpaceMismatch ?? false, say);
  const dim = seed?.dim ?? 128;
  const indexFile = options.indexFile === undefined ? path.join(run, 'index.safetensors') : options.indexFile;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const queue = { queueJobs: limits.queueJobs, queueBytes: limits.queueBytes };
  const opened = await openIndex(
    options.redis
      ? { backend: 'redis', redisUrl: options.redis, prefix: options.prefix, dim, precision: options.precision, ...queue }
      : { backend: 'embedded', file: indexFile, dim, precision: options.precision, fsync: options.fsync, ...queue, onJournalSkip: (line, file) => say(`${file}: byte ${line.offset}: ${line.reason}`) },
  );
  try {
    await seedIndex(opened, seed, say);
    const encoder = await openEncoder(encoderSpec ?? 'hashed-title', opened.index.dim);
    const service = await RankingService.create({
      run,
      index: opened,
      encoder,
      behaviours: opened.redis ? new RedisBehaviourStore(opened.redis, options.prefix) : undefined,
      token: options.token,
      log: options.log,
      logStream: options.logStream,
      ingestWorkers: options.ingestWorkers,
      ann: options.ann,
      rankThreads: options.rankThreads,
      watchSeconds: options.watchSeconds,
      backend: options.backend,
      limits,
      runsRoot: options.runsRoot,
    });
    return { service, opened, run };
  } catch (err) {
    await closeIndex(opened);
    throw err;
  }
}

/** Stops the service gracefully, then the index (embedded: folds the journal into the snapshot). */
export async function stopService({ service, opened }: { service: RankingService; opened: OpenedIndex }): Promise<void> {
  await service.close();
  await closeIndex(opened);
}
