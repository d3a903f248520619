/**
 * `mmctr export onnx`: a run folder -> `<out>` (the ONNX graph), `<out>.json` (the side file:
 * versions, run, model config, the input contract) and `<out>.ids.json` (the id maps the graph's
 * indices refer to), each written atomically.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { MODEL_FILE, openRun } from '../ctr/run.js';
import type { ExperimentConfig } from '../ctr/config.js';
import { writeFileAtomic, writeTextAtomic } from '../util/atomic-write.js';
import { MmctrError } from '../util/errors.js';
import { packageVersion } from '../util/paths.js';
import { NotARunError } from './errors.js';
import { exportOnnx, type TensorSpec } from './onnx.js';

/** The side file's format; bumped when a reader would misread a newer one. */
export const SIDE_FILE_FORMAT = 1;

export interface OnnxSideFile {
  format: 'mmctr-onnx';
  formatVersion: number;
  mmctrVersion: string;
  opset: number;
  run: string;
  exportedAt: string;
  model: ExperimentConfig['model'];
  /** L: every history input is [H, L]. */
  historyLength: number;
  /** Width of the item vector inputs (null: an ID-only model, no vector inputs). */
  vectorDim: number | null;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** The id maps, in a file beside this one (relative to it). */
  ids: { file: string; items: number; users: number };
}

/** The id maps: catalogue index i is items[i - 1], user index u is users[u - 1] (0 = unknown); fields as the model reads them. */
export interface OnnxIdMaps {
  items: string[];
  users: string[];
  /** Item fields the model embeds: vocabulary (value index v = vocab[v - 1]); the graph maps item index -> value itself. */
  itemFields: Record<string, string[]>;
  /** User fields the model embeds, likewise. */
  userFields: Record<string, string[]>;
}

export interface OnnxExportResult {
  file: string;
  sideFile: string;
  idsFile: string;
  bytes: number;
  seconds: number;
  side: OnnxSideFile;
}

export const sideFileOf = (file: string) => `${file}.json`;
export const idsFileOf = (file: string) => `${file}.ids.json`;

/** Reads an exported model's side file (refused when the model or the side file is missing, or the side file is not one). */
export function readSideFile(file: string): OnnxSideFile {
  for (const f of [file, sideFileOf(file)]) if (!existsSync(f)) throw new MmctrError(`${f} not found: \`mmctr export onnx <run> --out ${file}\` writes the model and its side file ${path.basename(sideFileOf(file))} beside it`);
  const side = JSON.parse(readFileSync(sideFileOf(file), 'utf8')) as OnnxSideFile;
  if (side.format !== 'mmctr-onnx' || side.formatVersion > SIDE_FILE_FORMAT)
    throw new MmctrError(`${sideFileOf(file)}: not an mmctr ONNX side file of format ${SIDE_FILE_FORMAT} or older (format ${String(side.format)}, version ${String(side.formatVersion)})`);
  return side;
}

/** Exports the run at `runDir` to `out` (and its side files). */
export function exportRunToOnnx(runDir: string, out: string): OnnxExportResult {
  const started = performance.now();
  const dir = path.resolve(runDir);
  for (const file of ['config.json', MODEL_FILE]) if (!existsSync(path.join(dir, file))) throw new NotARunError(runDir, file);
  const { config, store, model } = openRun(dir);
  const graph = exportOnnx(model, store.historyLength, config.name);
  const m = config.model;
  const userFields = store.userFields;
  const ids: OnnxIdMaps = {
    items: store.catalog.ids,
    users: store.users,
    itemFields: Object.fromEntries(m.itemFields.filter((f) => Object.hasOwn(store.catalog.fields, f)).map((f) => [f, store.catalog.fields[f].vocab])),
    userFields: Object.fromEntries((m.userFields ?? []).map((f) => [f, userFields[f]?.vocab ?? []])),
  };
  const file = path.resolve(out);
  const side: OnnxSideFile = {
    format: 'mmctr-onnx',
    formatVersion: SIDE_FILE_FORMAT,
    mmctrVersion: packageVersion(),
    opset: graph.opset,
    run: path.basename(dir),
    exportedAt: new Date().toISOString(),
    model: m,
    historyLength: graph.historyLength,
    vectorDim: graph.vectorDim,
    inputs: graph.inputs,
    outputs: graph.outputs,
    ids: { file: path.basename(idsFileOf(file)), items: ids.items.length, users: ids.users.length },
  };
  writeFileAtomic(file, [graph.bytes]);
  writeTextAtomic(idsFileOf(file), JSON.stringify(ids));
  writeTextAtomic(sideFileOf(file), JSON.stringify(side, null, 2));
  return { file, sideFile: sideFileOf(file), idsFile: idsFileOf(file), bytes: graph.bytes.length, seconds: (performance.now() - started) / 1000, side };
}
