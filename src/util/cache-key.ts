/**
 * The one cache key of every cached artefact (ad worlds, sample stores, SCL vectors, MAKE modules,
 * the service's built-in default): a hash of which stage built it, that stage's format version
 * (bumped whenever its code writes something different for the same recipe), its typed recipe
 * (every setting that shapes it; object key order does not matter) and the contents of its
 * input files (not their paths or times: a copied or touched file keys the same, an edited one
 * does not). Lives in util/ so that every stage can key its cache the same way. A cache folder
 * that keeps a stable name (so that configs can point into it) carries its key in a stamp file,
 * written once the folder is complete.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeTextAtomic } from './atomic-write.js';

export interface CacheRecipe {
  /** What is cached ('world', 'store', 'scl-vectors', ...): equal recipes of two stages never share a key. */
  stage: string;
  /** The stage's format version: bumped when its code writes something different for the same recipe. */
  version: number;
  /** Every setting that shapes the artefact, as JSON. */
  recipe: unknown;
  /** Input files whose contents shape the artefact; a missing one keys as absent (the build reports it). */
  files?: readonly string[];
}

/** The key of a recipe: `digits` hex characters of a SHA-256. */
export function cacheKey({ stage, version, recipe, files = [] }: CacheRecipe, digits = 16): string {
  const contents = files.map((file) => (existsSync(file) && statSync(file).isFile() ? fileDigest(file) : 'absent'));
  return createHash('sha256').update(canonicalJson({ stage, version, recipe, contents })).digest('hex').slice(0, digits);
}

/** JSON with object keys sorted at every level (undefined members left out, as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** SHA-256 of a file's bytes, read in 1 MB chunks: event logs can be larger than one Buffer may hold. */
export function fileDigest(file: string): string {
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, null)) > 0; ) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

const STAMP = '.cache-key';

/** Marks the folder `dir` as complete for `key` (call it last). */
export function stampCacheFolder(dir: string, key: string): void {
  writeTextAtomic(path.join(dir, STAMP), `${key}\n`);
}

/** Whether `dir` was completed for `key`. */
export function isCacheFolderOf(dir: string, key: string): boolean {
  try {
    return readFileSync(path.join(dir, STAMP), 'utf8').trim() === key;
  } catch {
    return false;
  }
}
