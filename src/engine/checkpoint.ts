/**
 * Training checkpoints and served models, both safetensors files (layouts in docs/formats.md).
 *
 * A checkpoint holds everything a killed run needs to continue as if it had never stopped: the
 * model's parameters, buffers and sparse tables ("model.<dotted name>"), each optimiser's state
 * buffers ("optim.<optimiser>.<buffer>") and step count, the RandomStream states (the trainer's
 * own, and every stream the model registered, e.g. dropout, as "model.<dotted name>"), and the
 * trainer's progress (epoch, step, data cursor...) as JSON in the metadata. A checkpoint
 * directory holds one file per saved step, "step-<12-digit step>.safetensors", each written
 * atomically, so a file under its final name is always complete; the newest K are kept.
 *
 * A model file holds only parameters, buffers and tables under their plain dotted names, plus the
 * model config as JSON: what serving loads.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { EngineError, ParameterFileError } from './errors.js';
import type { Module } from './module.js';
import type { Optimizer } from './optim.js';
import { RandomStream, type RandomState } from './random.js';
import { SafetensorsReader, writeSafetensors, type HeaderEntry, type TensorInput } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'mmctr.checkpoint';
export const MODEL_FORMAT = 'mmctr.model';
export const FORMAT_VERSION = '1';

const MODEL_PREFIX = 'model.';
const OPTIM_PREFIX = 'optim.';
const CHECKPOINT_NAME = /^step-(\d{12})\.safetensors$/;
/** The temporary names writeFileAtomic gives our checkpoint files: ".<name>.<pid>.<ms>.tmp". */
const CHECKPOINT_TEMP = /^\.step-\d{12}\.safetensors\.(\d+)\.\d+\.tmp$/;
const OPTIMIZER_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;
/** Problems listed in one mismatch error before the rest are summarised as a count. */
const MAX_LISTED = 25;

export interface TrainingState {
  model: Module;
  /** By a short name of the caller's choice ("dense", "sparse"); the name prefixes their buffers. */
  optimizers?: Readonly<Record<string, Optimizer>>;
  /** Every stream whose position affects what comes next (data order, dropout, sampling). */
  random?: Readonly<Record<string, RandomStream>>;
  /** Whatever the trainer needs to continue (epoch, data cursor, best metric...); plain JSON. */
  progress?: Readonly<Record<string, unknown>>;
}

export interface SaveCheckpointOptions {
  /** How many of the newest checkpoints to keep in the directory (default 3). */
  keep?: number;
}

export interface CheckpointInfo {
  file: string;
  step: number;
}

export interface LoadTarget {
  model: Module;
  /** Must name the same optimisers, of the same kinds, as the checkpoint. */
  optimizers?: Readonly<Record<string, Optimizer>>;
  /** RandomStream names the caller will restore; checked before anything is overwritten. */
  random?: readonly string[];
}

export interface LoadedCheckpoint {
  file: string;
  step: number;
  progress: Record<string, unknown>;
  /** Fresh streams at the saved positions, by name; replace the trainer's streams with them (the model's own streams are restored in place). */
  random: Record<string, RandomStream>;
}

interface OptimizerRecord {
  kind: string;
  steps: number;
  lr: number;
}

interface Expected {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Parameters, buffers and tables of a model, under their file names. */
function modelTensors(model: Module, prefix: string): Expected[] {
  const out: Expected[] = [];
  for (const [name, p] of model.namedParameters()) out.push({ name: prefix + name, shape: p.shape, data: p.data });
  for (const [name, b] of model.namedBuffers()) out.push({ name: prefix + name, shape: [b.length], data: b });
  for (const [name, t] of model.namedTables()) out.push({ name: prefix + name, shape: [t.rows, t.dim], data: t.weight });
  return out;
}

function checkOptimizerNames(optimizers: Readonly<Record<string, Optimizer>>): void {
  for (const name of Object.keys(optimizers))
    if (!OPTIMIZER_NAME.test(name)) throw new EngineError(`checkpoint: optimiser name '${name}' must be an identifier (letters, digits, _ or -), it prefixes tensor names`);
}

function optimizerTensors(optimizers: Readonly<Record<string, Optimizer>>): Expected[] {
  const out: Expected[] = [];
  for (const [oname, opt] of Object.entries(optimizers))
    for (const [name, b] of opt.stateBuffers()) out.push({ name: `${OPTIM_PREFIX}${oname}.${name}`, shape: [b.length], data: b });
  return out;
}

function toInputs(list: readonly Expected[]): Map<string, TensorInput> {
  const out = new Map<string, TensorInput>();
  for (const t of list) {
    if (out.has(t.name)) throw new EngineError(`checkpoint: two tensors would both be saved as '${t.name}'`);
    out.set(t.name, { data: t.data, shape: t.shape, dtype: 'F32' });
  }
  return out;
}

function jsonText(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new EngineError(`checkpoint: ${what} is not serialisable as JSON: ${(err as Error).message}`);
  }
  if (text === undefined) throw new EngineError(`checkpoint: ${what} is not serialisable as JSON`);
  return text;
}

function parseJson(reader: SafetensorsReader, key: string, fallback: unknown): unknown {
  const text = reader.metadata[key];
  if (text === undefined) return fallback;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ParameterFileError(reader.file, `metadata "${key}" is not valid JSON: ${(err as Error).message}`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

function checkpointName(step: number): string {
  return `step-${String(step).padStart(12, '0')}.safetensors`;
}

/** Writes one checkpoint file (atomically), without any directory bookkeeping. */
export function writeCheckpoint(file: string, step: number, state: TrainingState): void {
  if (!Number.isSafeInteger(step) || step < 0) throw new EngineError(`checkpoint: step must be a non-negative integer, got ${step}`);
  const optimizers = state.optimizers ?? {};
  checkOptimizerNames(optimizers);
  const tensors = toInputs([...modelTensors(state.model, MODEL_PREFIX), ...optimizerTensors(optimizers)]);
  const optimizerMeta: Record<string, OptimizerRecord> = {};
  for (const [name, opt] of Object.entries(optimizers)) optimizerMeta[name] = { kind: opt.kind, steps: opt.steps, lr: opt.lr };
  const random: Record<string, RandomState> = {};
  for (const [name, rng] of Object.entries(state.random ?? {})) {
    if (name.startsWith(MODEL_PREFIX)) throw new EngineError(`checkpoint: random stream name '${name}' is reserved for the model's own streams`);
    random[name] = rng.state();
  }
  for (const [name, rng] of state.model.namedStreams()) random[MODEL_PREFIX + name] = rng.state();
  writeSafetensors(file, tensors, {
    format: CHECKPOINT_FORMAT,
    format_version: FORMAT_VERSION,
    step: String(step),
    progress: jsonText(state.progress ?? {}, 'progress'),
    optimizers: jsonText(optimizerMeta, 'optimiser records'),
    random: jsonText(random, 'random states'),
  });
}

/**
 * Saves the state as `<dir>/step-<step>.safetensors`, then deletes all but the newest `keep`
 * checkpoints and any temporary file a killed writer left behind. Returns the file written.
 */
export function saveCheckpoint(dir: string, step: number, state: TrainingState, { keep = 3 }: SaveCheckpointOptions = {}): string {
  if (!Number.isSafeInteger(keep) || keep < 1) throw new EngineError(`checkpoint: keep must be a positive integer, got ${keep}`);
  const file = path.join(dir, checkpointName(step));
  writeCheckpoint(file, step, state);
  const all = checkpointFiles(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old.file, { force: true });
  removeStaleTemps(dir);
  return file;
}

/** Checkpoint files by name (not validated), oldest step first. */
function checkpointFiles(dir: string): CheckpointInfo[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: CheckpointInfo[] = [];
  for (const name of names) {
    const m = CHECKPOINT_NAME.exec(name);
    if (m) out.push({ file: path.join(dir, name), step: Number(m[1]) });
  }
  return out.sort((a, b) => a.step - b.step);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A writer killed mid-write leaves its temporary file (possibly hundreds of MB); reclaim it. */
function removeStaleTemps(dir: string): void {
  for (const name of readdirSync(dir)) {
    const m = CHECKPOINT_TEMP.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !processAlive(pid)) rmSync(path.join(dir, name), { force: true });
  }
}

/** Why a checkpoint file cannot be resumed from, or null when it is complete. */
function checkpointProblem(file: string): string | null {
  let reader: SafetensorsReader;
  try {
    reader = SafetensorsReader.open(file);
  } catch (err) {
    return (err as Error).message;
  }
  try {
    if (reader.metadata.format !== CHECKPOINT_FORMAT) return `${file}: metadata format is ${JSON.stringify(reader.metadata.format)}, not "${CHECKPOINT_FORMAT}"`;
    if (statSync(file).size !== reader.header.totalBytes) return `${file}: the size does not match the header`;
    return null;
  } finally {
    reader.close();
  }
}

/**
 * The complete checkpoints in `dir`, oldest first: files under their final names whose header
 * parses, whose size matches it and which say they are checkpoints. Temporary files are ignored.
 */
export function listCheckpoints(dir: string): CheckpointInfo[] {
  return checkpointFiles(dir).filter((c) => checkpointProblem(c.file) === null);
}

/** The newest complete checkpoint in `dir`, or null when there is none (or no directory). */
export function latestCheckpoint(dir: string): string | null {
  const all = checkpointFiles(dir);
  for (let i = all.length - 1; i >= 0; i--) if (checkpointProblem(all[i].file) === null) return all[i].file;
  return null;
}

/**
 * Compares the file's tensors under `prefix` (only those) with the expected ones: every expected
 * name present with the same dtype and shape, no extra names.
 */
function compareTensors(
  entries: ReadonlyMap<string, HeaderEntry>,
  expected: readonly Expected[],
  prefix: string,
  what: string,
  problems: string[],
  reportedElsewhere: (name: string) => boolean = () => false,
): void {
  const want = new Set<string>();
  for (const t of expected) {
    want.add(t.name);
    const e = entries.get(t.name);
    if (!e) problems.push(`'${t.name}' (F32 ${shapeText(t.shape)}) is in the ${what} but missing from the file`);
    else if (e.dtype !== 'F32' || shapeText(e.shape) !== shapeText(t.shape))
      problems.push(`'${t.name}' is ${e.dtype} ${shapeText(e.shape)} in the file but F32 ${shapeText(t.shape)} in the ${what}`);
  }
  for (const name of entries.keys())
    if (name.startsWith(prefix) && !want.has(name) && !reportedElsewhere(name)) problems.push(`'${name}' is in the file but not in the ${what}`);
}

function mismatch(file: string, what: string, problems: readonly string[]): ParameterFileError {
  const listed = problems.slice(0, MAX_LISTED).map((p) => `\n  - ${p}`).join('');
  const more = problems.length > MAX_LISTED ? `\n  ... and ${problems.length - MAX_LISTED} more` : '';
  return new ParameterFileError(file, `does not match the ${what} (${problems.length} problem${problems.length === 1 ? '' : 's'}):${listed}${more}`);
}

function readRandomStates(reader: SafetensorsReader): Record<string, RandomState> {
  const raw = parseJson(reader, 'random', {});
  if (!isPlainObject(raw)) throw new ParameterFileError(reader.file, `metadata "random" must be an object of {seed, counter}`);
  for (const [name, s] of Object.entries(raw))
    if (!isPlainObject(s) || !Number.isSafeInteger(s.seed) || !Number.isSafeInteger(s.counter) || (s.seed as number) < 0 || (s.counter as number) < 0)
      throw new ParameterFileError(reader.file, `metadata "random"."${name}" must be {seed, counter} with non-negative integers, got ${JSON.stringify(s)}`);
  return raw as Record<string, RandomState>;
}

/**
 * Loads a checkpoint into the model and optimisers. Every check (names, shapes, optimiser kinds,
 * random stream names) runs before the first value is overwritten, and a mismatch error lists
 * every problem, so a failed load leaves the training state as it was.
 */
export function loadCheckpoint(file: string, target: LoadTarget): LoadedCheckpoint {
  const reader = SafetensorsReader.open(file);
  try {
    const meta = reader.metadata;
    if (meta.format !== CHECKPOINT_FORMAT)
      throw new ParameterFileError(file, `is not an mmctr checkpoint (metadata format is ${JSON.stringify(meta.format)}, expected "${CHECKPOINT_FORMAT}")`);
    if (meta.format_version !== FORMAT_VERSION)
      throw new ParameterFileError(file, `has checkpoint format version ${JSON.stringify(meta.format_version)}; this build reads version ${FORMAT_VERSION}`);
    const step = Number(meta.step);
    if (!Number.isSafeInteger(step) || step < 0) throw new ParameterFileError(file, `metadata "step" must be a non-negative integer, got ${JSON.stringify(meta.step)}`);
    const progress = parseJson(reader, 'progress', {});
    if (!isPlainObject(progress)) throw new ParameterFileError(file, `metadata "progress" must be a JSON object`);
    const savedOptimizers = parseJson(reader, 'optimizers', {});
    if (!isPlainObject(savedOptimizers)) throw new ParameterFileError(file, `metadata "optimizers" must be a JSON object`);
    const random = readRandomStates(reader);

    const optimizers = target.optimizers ?? {};
    checkOptimizerNames(optimizers);
    const problems: string[] = [];
    const modelList = modelTensors(target.model, MODEL_PREFIX);
    compareTensors(reader.header.entries, modelList, MODEL_PREFIX, 'model', problems);
    for (const [name, opt] of Object.entries(optimizers)) {
      const saved = savedOptimizers[name];
      if (!isPlainObject(saved)) problems.push(`optimiser '${name}' (${opt.kind}) is not in the checkpoint (it has: ${Object.keys(savedOptimizers).join(', ') || 'none'})`);
      else if (saved.kind !== opt.kind) problems.push(`optimiser '${name}' is ${opt.kind} but the checkpoint saved a ${String(saved.kind)}`);
      else if (!Number.isSafeInteger(saved.steps) || (saved.steps as number) < 0) problems.push(`optimiser '${name}': saved steps ${JSON.stringify(saved.steps)} is not a non-negative integer`);
    }
    for (const name of Object.keys(savedOptimizers)) if (!(name in optimizers)) problems.push(`optimiser '${name}' is in the checkpoint but was not given to load into`);
    const optimList = optimizerTensors(optimizers);
    // The buffers of a saved optimiser that was not given are covered by the line above.
    const notGiven = (name: string): boolean => {
      const owner = name.slice(OPTIM_PREFIX.length).split('.')[0];
      return owner in savedOptimizers && !(owner in optimizers);
    };
    compareTensors(reader.header.entries, optimList, OPTIM_PREFIX, 'optimisers', problems, notGiven);
    for (const name of target.random ?? []) if (!(name in random)) problems.push(`random stream '${name}' is not in the checkpoint (it has: ${Object.keys(random).join(', ') || 'none'})`);
    const modelStreams = target.model.namedStreams();
    for (const [name, rng] of modelStreams) {
      const saved = random[MODEL_PREFIX + name];
      if (!saved) problems.push(`the model's random stream '${name}' is not in the checkpoint (an older build did not save it): a run resumed from it would draw different dropout masks`);
      else if (saved.seed !== rng.seed) problems.push(`the model's random stream '${name}' has seed ${saved.seed} in the checkpoint but ${rng.seed} in the model (a different seed or model config)`);
    }
    for (const name of Object.keys(random))
      if (name.startsWith(MODEL_PREFIX) && !modelStreams.has(name.slice(MODEL_PREFIX.length))) problems.push(`random stream '${name}' is in the checkpoint but the model has no stream '${name.slice(MODEL_PREFIX.length)}'`);
    for (const name of reader.header.entries.keys())
      if (!name.startsWith(MODEL_PREFIX) && !name.startsWith(OPTIM_PREFIX)) problems.push(`'${name}' is in the file but is neither 'model.*' nor 'optim.*'`);
    if (problems.length > 0) throw mismatch(file, 'training state', problems);

    for (const t of [...modelList, ...optimList]) reader.readInto(t.name, t.data);
    for (const [name, opt] of Object.entries(optimizers)) opt.setSteps((savedOptimizers[name] as Record<string, unknown>).steps as number);
    for (const [name, rng] of modelStreams) rng.seek(random[MODEL_PREFIX + name]);
    const streams: Record<string, RandomStream> = {};
    for (const [name, s] of Object.entries(random)) if (!name.startsWith(MODEL_PREFIX)) streams[name] = RandomStream.restore(s);
    return { file, step, progress, random: streams };
  } finally {
    reader.close();
  }
}

/** Loads the newest complete checkpoint in `dir`, or returns null when there is none. */
export function resumeLatest(dir: string, target: LoadTarget): LoadedCheckpoint | null {
  const file = latestCheckpoint(dir);
  return file === null ? null : loadCheckpoint(file, target);
}

// ---------------------------------------------------------------------------------------------
// Models (serving)

/** Writes parameters, buffers and tables under their dotted names, with `config` as JSON. */
export function saveModel(file: string, model: Module, config: unknown = null): void {
  writeSafetensors(file, toInputs(modelTensors(model, '')), {
    format: MODEL_FORMAT,
    format_version: FORMAT_VERSION,
    config: jsonText(config, 'the model config'),
  });
}

function openModelFile(file: string): { reader: SafetensorsReader; prefix: string } {
  const reader = SafetensorsReader.open(file);
  const format = reader.metadata.format;
  if (format === MODEL_FORMAT || format === undefined) return { reader, prefix: '' };
  if (format === CHECKPOINT_FORMAT) return { reader, prefix: MODEL_PREFIX };
  reader.close();
  throw new ParameterFileError(file, `metadata format is ${JSON.stringify(format)}; expected "${MODEL_FORMAT}" or "${CHECKPOINT_FORMAT}"`);
}

/**
 * The config a model file was saved with (serving reads it to build the model before loading the
 * weights). Null for a checkpoint or a foreign file.
 */
export function readModelConfig(file: string): unknown {
  const { reader } = openModelFile(file);
  try {
    return parseJson(reader, 'config', null);
  } finally {
    reader.close();
  }
}

/**
 * Loads parameters, buffers and tables into `model` from a model file, a checkpoint (its model
 * part) or a foreign safetensors file with no format tag and the same dotted names. All names and
 * shapes are checked before anything is overwritten. Returns the saved config.
 */
export function loadModel(file: string, model: Module): { config: unknown } {
  const { reader, prefix } = openModelFile(file);
  try {
    const list = modelTensors(model, prefix);
    const problems: string[] = [];
    compareTensors(reader.header.entries, list, prefix, 'model', problems);
    if (problems.length > 0) throw mismatch(file, 'model', problems);
    for (const t of list) reader.readInto(t.name, t.data);
    return { config: parseJson(reader, 'config', null) };
  } finally {
    reader.close();
  }
}
