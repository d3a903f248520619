/**
 * The on-disk feature cache: each item's frozen image feature is computed once per backbone.
 *
 *   <cacheDir>/<sha256(backbone.id), 16 hex>/features.safetensors
 *     tensors  features F32 [n, dim], missing U8 [n]
 *     metadata backbone (the full id, checked on read), dim, ids (JSON), images (JSON: the path
 *              each row was computed from), signatures (JSON: for failed rows, the file's
 *              size:mtime or "absent" when it failed, so that a fixed file is retried), reasons (JSON)
 *
 * A row is reused when its item id and image path match; a changed backbone id is a different
 * folder, so nothing of another backbone is ever reused. Writes are atomic (temp file + rename);
 * the file is saved every `saveEverySeconds` while computing and at the end, so an interrupted
 * run resumes where it stopped. An unreadable cache file is set aside (recomputed), never fatal.
 *
 * Items without an image, image files that do not exist and files the backbone cannot decode are
 * missing rows (zero, missing = 1) with the reason in report.problems; never a crash.
 */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { readSafetensors, SafetensorsFile, writeSafetensors } from '../engine/safetensors.js';
import { EncoderError, FeatureFileError } from './errors.js';
import type { FeatureTable, ImageBackbone, ItemContent } from './types.js';

export interface ImageFeatureOptions {
  /** Images sent to the backbone per call (progress granularity). Default 256. */
  chunk?: number;
  /** Save the cache at most this often while computing (and always at the end). Default 60. */
  saveEverySeconds?: number;
}

interface Row {
  feature: Float32Array | null; // null = failed
  image: string;
  signature: string; // '' for successful rows
  reason: string;
}

/** The cache folder of one backbone. */
export function cacheFolder(cacheDir: string, backboneId: string): string {
  return path.join(cacheDir, createHash('sha256').update(backboneId).digest('hex').slice(0, 16));
}

function fileSignature(file: string): string {
  try {
    const s = statSync(file);
    return `${s.size}:${Math.round(s.mtimeMs)}`;
  } catch {
    return 'absent';
  }
}

/** Whether a safetensors file is a feature cache of this module's layout. */
export function isFeatureCache(st: SafetensorsFile): boolean {
  return Boolean(st.metadata.backbone) && st.tensors.has('features') && st.tensors.has('missing');
}

/** One metadata list of a feature cache (a JSON array), or a FeatureFileError naming the file. */
function metadataList(file: string, st: SafetensorsFile, key: string): string[] {
  try {
    const v = JSON.parse(st.metadata[key] ?? 'null') as unknown;
    if (Array.isArray(v)) return v.map(String);
  } catch {
    /* reported below */
  }
  throw new FeatureFileError(file, null, `feature cache metadata "${key}" is not a JSON array`);
}

/** The features of a feature cache file by item id, checked for consistent sizes (a FeatureFileError naming the file otherwise). */
export function featureCacheContents(file: string, st: SafetensorsFile): { backbone: string; dim: number; ids: string[]; features: Float32Array; missing: Uint8Array } {
  const features = st.tensors.get('features'), missing = st.tensors.get('missing');
  if (!features || !missing) throw new FeatureFileError(file, null, 'a feature cache needs the tensors "features" and "missing"');
  const ids = metadataList(file, st, 'ids');
  if (features.dtype !== 'F32' || features.shape.length !== 2 || features.shape[0] !== ids.length || missing.data.length !== ids.length)
    throw new FeatureFileError(file, null, `feature cache: features ${features.dtype} [${features.shape.join(', ')}] and missing [${missing.data.length}] do not match ${ids.length} ids`);
  return { backbone: st.metadata.backbone, dim: features.shape[1], ids, features: features.data as Float32Array, missing: missing.data as Uint8Array };
}

function readCache(file: string, backbone: ImageBackbone): Map<string, Row> {
  const rows = new Map<string, Row>();
  if (!existsSync(file)) return rows;
  try {
    const st = readSafetensors(file);
    const cache = featureCacheContents(file, st);
    if (cache.backbone !== backbone.id || Number(st.metadata.dim) !== backbone.dim) throw new Error(`made by backbone "${cache.backbone}" (${st.metadata.dim}-d)`);
    const [images, sigs, reasons] = ['images', 'signatures', 'reasons'].map((key) => metadataList(file, st, key));
    const d = backbone.dim;
    if (cache.dim !== d || images.length !== cache.ids.length) throw new Error('inconsistent sizes');
    cache.ids.forEach((id, i) =>
      rows.set(id, {
        feature: cache.missing[i] ? null : cache.features.slice(i * d, (i + 1) * d),
        image: images[i],
        signature: sigs[i] ?? '',
        reason: reasons[i] ?? '',
      }),
    );
    return rows;
  } catch (err) {
    // A corrupt or foreign cache is set aside, not fatal: everything is recomputed.
    const aside = `${file}.bad-${Date.now()}`;
    try {
      renameSync(file, aside);
    } catch {
      /* ignore */
    }
    process.emitWarning(`feature cache ${file} unreadable (${(err as Error).message}); moved to ${aside}, recomputing`);
    return new Map();
  }
}

function writeCache(file: string, backbone: ImageBackbone, rows: Map<string, Row>): void {
  const ids = [...rows.keys()];
  const d = backbone.dim;
  const features = new Float32Array(ids.length * d);
  const missing = new Uint8Array(ids.length);
  const images: string[] = [];
  const sigs: string[] = [];
  const reasons: string[] = [];
  ids.forEach((id, i) => {
    const r = rows.get(id)!;
    if (r.feature) features.set(r.feature, i * d);
    else missing[i] = 1;
    images.push(r.image);
    sigs.push(r.signature);
    reasons.push(r.reason);
  });
  writeSafetensors(
    file,
    { features: { data: features, shape: [ids.length, d] }, missing: { data: missing } },
    { backbone: backbone.id, dim: String(d), ids: JSON.stringify(ids), images: JSON.stringify(images), signatures: JSON.stringify(sigs), reasons: JSON.stringify(reasons) },
  );
}

/** Whether a failure reason means "the file is not there" (missing) rather than "unreadable" (corrupt). */
function isAbsence(reason: string): boolean {
  return reason.startsWith('no image') || reason.startsWith('missing file');
}

/**
 * Frozen image features of `items` (rows in item order), computing only what the cache of this
 * backbone lacks. `onProgress(done, total)` reports the items being computed.
 */
export async function imageFeatures(
  backbone: ImageBackbone,
  items: readonly ItemContent[],
  cacheDir: string,
  onProgress?: (done: number, total: number) => void,
  options: ImageFeatureOptions = {},
): Promise<FeatureTable> {
  const chunk = options.chunk ?? 256;
  const saveEvery = (options.saveEverySeconds ?? 60) * 1000;
  const seen = new Set<string>();
  for (const it of items) {
    if (seen.has(it.id)) throw new EncoderError(`imageFeatures: item id "${it.id}" is listed twice`);
    seen.add(it.id);
  }
  const file = path.join(cacheFolder(cacheDir, backbone.id), 'features.safetensors');
  const rows = readCache(file, backbone);
  let cached = 0;
  let dirty = false;
  const todo: { id: string; image: string }[] = [];
  for (const it of items) {
    const image = it.image ? path.resolve(it.image) : '';
    const r = rows.get(it.id);
    if (r && r.image === image && (r.feature || r.signature === (image ? fileSignature(image) : 'none'))) {
      cached++;
      continue;
    }
    if (!image) {
      rows.set(it.id, { feature: null, image, signature: 'none', reason: 'no image' });
      dirty = true;
    } else if (!existsSync(image)) {
      rows.set(it.id, { feature: null, image, signature: 'absent', reason: `missing file: ${image}` });
      dirty = true;
    } else todo.push({ id: it.id, image });
  }
  onProgress?.(0, todo.length);
  let lastSave = Date.now();
  for (let s = 0; s < todo.length; s += chunk) {
    const part = todo.slice(s, s + chunk);
    const { features, failed } = await backbone.encode(part.map((t) => t.image));
    if (features.length !== part.length * backbone.dim)
      throw new EncoderError(`backbone ${backbone.id} returned ${features.length} values for ${part.length} images of ${backbone.dim} dimensions`);
    const bad = new Map(failed.map((f) => [f.index, f.reason]));
    part.forEach((t, j) => {
      const f = features.slice(j * backbone.dim, (j + 1) * backbone.dim);
      let reason = bad.get(j);
      if (reason === undefined && !f.every(Number.isFinite)) reason = 'unreadable image: backbone produced non-finite features';
      rows.set(t.id, reason === undefined ? { feature: f, image: t.image, signature: '', reason: '' } : { feature: null, image: t.image, signature: fileSignature(t.image), reason });
    });
    dirty = true;
    onProgress?.(Math.min(s + chunk, todo.length), todo.length);
    if (Date.now() - lastSave >= saveEvery && s + chunk < todo.length) {
      writeCache(file, backbone, rows);
      lastSave = Date.now();
    }
  }
  if (dirty) writeCache(file, backbone, rows);

  const d = backbone.dim;
  const features = new Float32Array(items.length * d);
  const missing = new Uint8Array(items.length);
  const problems: { id: string; reason: string }[] = [];
  let nMissing = 0;
  let nCorrupt = 0;
  items.forEach((it, i) => {
    const r = rows.get(it.id)!;
    if (r.feature) features.set(r.feature, i * d);
    else {
      missing[i] = 1;
      if (isAbsence(r.reason)) nMissing++;
      else nCorrupt++;
      problems.push({ id: it.id, reason: r.reason });
    }
  });
  return {
    backbone: backbone.id,
    dim: d,
    ids: items.map((it) => it.id),
    features,
    missing,
    report: { computed: todo.length, cached, missing: nMissing, corrupt: nCorrupt, problems },
  };
}
