/**
 * A published model: a run folder that a continuous trainer (`mmctr stream train`) replaces with
 * newer weights every few seconds, and the two small files that say what it holds. The trainer
 * writes them; the service reads them (`mmctr serve --watch` reloads on a new version, /metrics
 * shows the model's age and how many samples the trainer is ahead of it). Each file is written
 * atomically, the manifest after the weights, so a reader that sees a version sees its weights.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeTextAtomic } from '../util/atomic-write.js';
import { MmctrError } from '../util/errors.js';
import { MODEL_FILE } from './run.js';

/** The manifest of the weights in the folder. */
export const PUBLICATION_FILE = 'stream.json';
/** The trainer's own count, ahead of the published one between publications. */
export const TRAINER_PROGRESS_FILE = 'stream-progress.json';

export interface Publication {
  /** Increments with every publication of this trainer (1 = the first), across restarts. */
  version: number;
  /** The run the stream started from. */
  from: string;
  /** Samples the weights have trained on in the stream. */
  trained: number;
  /** Event time of the newest sample trained (seconds; null before the first). */
  newestEventTs: number | null;
  publishedAt: string;
}

export interface TrainerProgress {
  trained: number;
  at: string;
}

function readJson<T>(file: string, what: string, valid: (v: Record<string, unknown>) => boolean): T | null {
  if (!existsSync(file)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new MmctrError(`${file}: not JSON (${(err as Error).message}); expected ${what}`);
  }
  if (typeof parsed !== 'object' || parsed === null || !valid(parsed as Record<string, unknown>)) throw new MmctrError(`${file}: expected ${what}`);
  return parsed as T;
}

export function writePublication(runDir: string, p: Publication): void {
  writeTextAtomic(path.join(runDir, PUBLICATION_FILE), JSON.stringify(p));
}

/** The folder's manifest, or null for a run no stream publishes. */
export function readPublication(runDir: string): Publication | null {
  return readJson<Publication>(path.join(runDir, PUBLICATION_FILE), 'a publication manifest {"version", "trained", "publishedAt", ...}', (v) => Number.isInteger(v.version) && typeof v.trained === 'number' && typeof v.publishedAt === 'string');
}

function readPublicationOrNull(runDir: string): Publication | null {
  try {
    return readPublication(runDir);
  } catch {
    // a manifest being replaced reads whole or not at all (atomic); anything else: fall back to the file
    return null;
  }
}

export function writeTrainerProgress(runDir: string, p: TrainerProgress): void {
  writeTextAtomic(path.join(runDir, TRAINER_PROGRESS_FILE), JSON.stringify(p));
}

export function readTrainerProgress(runDir: string): TrainerProgress | null {
  return readJson<TrainerProgress>(path.join(runDir, TRAINER_PROGRESS_FILE), 'the trainer progress {"trained", "at"}', (v) => typeof v.trained === 'number' && typeof v.at === 'string');
}

/**
 * What identifies the weights in a run folder now: the manifest's version where a stream
 * publishes, else the weights file's modification time and size (a run retrained in place).
 * `publication`: the manifest already read (default: read it here, an unreadable one ignored).
 */
export function weightsSignature(runDir: string, publication: Publication | null = readPublicationOrNull(runDir)): string {
  if (publication) return `v${publication.version}`;
  try {
    const s = statSync(path.join(runDir, MODEL_FILE));
    return `m${s.mtimeMs}:${s.size}`;
  } catch {
    return 'absent';
  }
}
