import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backward } from '../../src/engine/autograd.js';
import {
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  loadModel,
  readModelConfig,
  resumeLatest,
  saveCheckpoint,
  saveModel,
  writeCheckpoint,
} from '../../src/engine/checkpoint.js';
import { EngineError, ParameterFileError } from '../../src/engine/errors.js';
import { normal, zeros } from '../../src/engine/init.js';
import { Module } from '../../src/engine/module.js';
import { bceWithLogits, linear, reshape } from '../../src/engine/ops/index.js';
import { Adam, SGD, SparseAdam } from '../../src/engine/optim.js';
import { RandomStream } from '../../src/engine/random.js';
import { readSafetensors, writeSafetensors } from '../../src/engine/safetensors.js';
import { SparseEmbedding } from '../../src/engine/sparse-embedding.js';
import { Parameter } from '../../src/engine/tensor.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const TRAIN_SCRIPT = path.join(here, '..', 'fixtures', 'resume-train.js');

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), 'mmctr-ckpt-'));
}

function withDir(fn: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = tempDir();
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

class Tower extends Module {
  readonly w: Parameter;
  readonly b: Parameter;
  constructor(inDim: number, rng: RandomStream) {
    super();
    this.w = this.param('w', [inDim, 1], normal(0.1), rng);
    this.b = this.param('b', [1], zeros, rng);
  }
}

class Small extends Module {
  readonly emb: SparseEmbedding;
  readonly tower: Tower;
  readonly stats: Float32Array;
  constructor(rng: RandomStream, { rows = 10, dim = 4 }: { rows?: number; dim?: number } = {}) {
    super();
    this.emb = this.table('emb', new SparseEmbedding({ rows, dim }, rng.fork('emb')));
    this.tower = this.child('tower', new Tower(2 * dim, rng.fork('tower')));
    this.stats = this.buffer('stats', 3);
  }
}

function optimizersFor(model: Small): { dense: Adam; sparse: SparseAdam } {
  return { dense: new Adam(model.namedParameters(), { lr: 0.1 }), sparse: new SparseAdam(model.namedTables(), { lr: 0.1 }) };
}

/** A few real steps so moments and step counts are non-trivial. */
function train(model: Small, opts: { dense: Adam; sparse: SparseAdam }, steps: number): void {
  const rng = new RandomStream(99);
  for (let s = 0; s < steps; s++) {
    const ids = rng.ints(8, model.emb.rows);
    const x = reshape(model.emb.lookup(ids, [4, 2]), [4, 2 * model.emb.dim]);
    backward(bceWithLogits(linear(x, model.tower.w, model.tower.b), Float32Array.from([1, 0, 1, 0])));
    opts.dense.step();
    opts.sparse.step();
    model.stats[s % 3] += 1;
  }
}

function snapshot(model: Module): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [k, p] of model.namedParameters()) out.set(`p:${k}`, p.data.slice());
  for (const [k, b] of model.namedBuffers()) out.set(`b:${k}`, b.slice());
  for (const [k, t] of model.namedTables()) out.set(`t:${k}`, t.weight.slice());
  return out;
}

function expectMismatch(fn: () => unknown, file: string, ...fragments: string[]): string {
  let message = '';
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ParameterFileError, `expected a ParameterFileError, got ${String(err)}`);
    message = err.message;
    assert.ok(message.startsWith(file), message);
    for (const f of fragments) assert.ok(message.includes(f), `message should mention '${f}':\n${message}`);
    return true;
  });
  return message;
}

test('a checkpoint restores parameters, buffers, tables, optimiser state, random streams and progress', withDir((dir) => {
  const model = new Small(new RandomStream(1));
  const opts = optimizersFor(model);
  train(model, opts, 5);
  const data = new RandomStream(5);
  data.uniform(17);
  const file = saveCheckpoint(dir, 5, { model, optimizers: opts, random: { data }, progress: { epoch: 2, cursor: 1234, note: 'x' } });
  assert.equal(path.basename(file), 'step-000000000005.safetensors');

  const fresh = new Small(new RandomStream(2));
  const freshOpts = optimizersFor(fresh);
  assert.notDeepEqual(snapshot(fresh), snapshot(model));
  const ck = loadCheckpoint(file, { model: fresh, optimizers: freshOpts, random: ['data'] });
  assert.equal(ck.step, 5);
  assert.deepEqual(ck.progress, { epoch: 2, cursor: 1234, note: 'x' });
  assert.deepEqual(snapshot(fresh), snapshot(model));
  assert.equal(freshOpts.dense.steps, 5);
  assert.equal(freshOpts.sparse.steps, 5);
  for (const key of ['dense', 'sparse'] as const)
    for (const [name, buf] of opts[key].stateBuffers()) assert.deepEqual(freshOpts[key].stateBuffers().get(name), buf, `${key} ${name}`);
  assert.deepEqual(ck.random.data.state(), data.state());
  assert.deepEqual(ck.random.data.uniform(4), data.uniform(4));

  // Training on from both gives the same weights: nothing that matters was left out.
  train(model, opts, 3);
  train(fresh, freshOpts, 3);
  assert.deepEqual(snapshot(fresh), snapshot(model));
}));

test('a checkpoint is readable as plain safetensors with prefixed names', withDir((dir) => {
  const model = new Small(new RandomStream(1));
  const file = path.join(dir, 'one.safetensors');
  writeCheckpoint(file, 0, { model, optimizers: optimizersFor(model) });
  const { metadata, tensors } = readSafetensors(file);
  assert.equal(metadata.format, 'mmctr.checkpoint');
  assert.deepEqual(
    [...tensors.keys()].sort(),
    [
      'model.emb', 'model.stats', 'model.tower.b', 'model.tower.w',
      'optim.dense.tower.b.m', 'optim.dense.tower.b.v', 'optim.dense.tower.w.m', 'optim.dense.tower.w.v',
      'optim.sparse.emb.m', 'optim.sparse.emb.v',
    ],
  );
  assert.deepEqual(tensors.get('model.emb')!.shape, [10, 4]);
  assert.deepEqual(tensors.get('model.tower.w')!.shape, [8, 1]);
  assert.deepEqual(JSON.parse(metadata.optimizers), { dense: { kind: 'adam', steps: 0, lr: 0.1 }, sparse: { kind: 'sparse-adam', steps: 0, lr: 0.1 } });
}));

test('loading into a different model names every mismatch and changes nothing', withDir((dir) => {
  const model = new Small(new RandomStream(1));
  const file = saveCheckpoint(dir, 1, { model, optimizers: optimizersFor(model), random: { data: new RandomStream(3) } });

  const other = new Small(new RandomStream(2), { rows: 12 });
  const otherOpts = optimizersFor(other);
  const before = snapshot(other);
  expectMismatch(
    () => loadCheckpoint(file, { model: other, optimizers: otherOpts }),
    file,
    '3 problems',
    `'model.emb' is F32 [10, 4] in the file but F32 [12, 4] in the model`,
    `'optim.sparse.emb.m' is F32 [40] in the file but F32 [48] in the optimisers`,
    `'optim.sparse.emb.v' is F32 [40] in the file but F32 [48] in the optimisers`,
  );
  assert.deepEqual(snapshot(other), before);
  assert.equal(otherOpts.dense.steps, 0);

  class Renamed extends Module {
    constructor(rng: RandomStream) {
      super();
      this.table('emb', new SparseEmbedding({ rows: 10, dim: 4 }, rng));
      this.child('head', new Tower(8, rng));
    }
  }
  const renamed = new Renamed(new RandomStream(4));
  expectMismatch(
    () => loadCheckpoint(file, { model: renamed }),
    file,
    `'model.head.w' (F32 [8, 1]) is in the model but missing from the file`,
    `'model.head.b' (F32 [1]) is in the model but missing from the file`,
    `'model.tower.w' is in the file but not in the model`,
    `'model.stats' is in the file but not in the model`,
    `optimiser 'dense' is in the checkpoint but was not given`,
    `optimiser 'sparse' is in the checkpoint but was not given`,
  );

  const sgd = { dense: new SGD(model.namedParameters(), { momentum: 0.9 }), sparse: new SparseAdam(model.namedTables()) };
  const message = expectMismatch(
    () => loadCheckpoint(file, { model, optimizers: sgd, random: ['data', 'dropout'] }),
    file,
    `optimiser 'dense' is sgd but the checkpoint saved a adam`,
    `'optim.dense.tower.w.momentum' (F32 [8]) is in the optimisers but missing from the file`,
    `'optim.dense.tower.w.m' is in the file but not in the optimisers`,
    `random stream 'dropout' is not in the checkpoint (it has: data)`,
  );
  assert.ok(!message.includes(`random stream 'data'`), message);

  const extra = new Adam(model.namedParameters());
  expectMismatch(() => loadCheckpoint(file, { model, optimizers: { ...optimizersFor(model), extra } }), file, `optimiser 'extra' (adam) is not in the checkpoint (it has: dense, sparse)`);
}));

test('loadCheckpoint refuses files that are not checkpoints', withDir((dir) => {
  const model = new Small(new RandomStream(1));
  const modelFile = path.join(dir, 'model.safetensors');
  saveModel(modelFile, model);
  expectMismatch(() => loadCheckpoint(modelFile, { model }), modelFile, 'is not an mmctr checkpoint', '"mmctr.model"');
  const foreign = path.join(dir, 'foreign.safetensors');
  writeSafetensors(foreign, { x: { data: new Float32Array(2) } });
  expectMismatch(() => loadCheckpoint(foreign, { model }), foreign, 'is not an mmctr checkpoint');
  const future = path.join(dir, 'future.safetensors');
  writeSafetensors(future, {}, { format: 'mmctr.checkpoint', format_version: '9', step: '1' });
  expectMismatch(() => loadCheckpoint(future, { model }), future, 'format version "9"');
  const badProgress = path.join(dir, 'bad.safetensors');
  writeSafetensors(badProgress, {}, { format: 'mmctr.checkpoint', format_version: '1', step: '1', progress: '{oops' });
  expectMismatch(() => loadCheckpoint(badProgress, { model: new (class extends Module {})() }), badProgress, 'metadata "progress" is not valid JSON');
  assert.throws(() => saveCheckpoint(dir, 1, { model, optimizers: { 'a.b': new Adam(model.namedParameters()) } }), EngineError);
  assert.throws(() => saveCheckpoint(dir, -1, { model }), /step must be a non-negative integer/);
  assert.throws(() => saveCheckpoint(dir, 1, { model }, { keep: 0 }), /keep must be a positive integer/);
}));

test('saveCheckpoint keeps the newest K; latestCheckpoint skips incomplete files', withDir((dir) => {
  const model = new Small(new RandomStream(1));
  assert.equal(latestCheckpoint(path.join(dir, 'nope')), null);
  assert.equal(latestCheckpoint(dir), null);
  assert.equal(resumeLatest(dir, { model }), null);
  for (const step of [1, 2, 3, 10, 100]) saveCheckpoint(dir, step, { model, progress: { step } }, { keep: 3 });
  assert.deepEqual(readdirSync(dir).sort(), ['step-000000000003.safetensors', 'step-000000000010.safetensors', 'step-000000000100.safetensors']);
  assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [3, 10, 100]);
  assert.equal(latestCheckpoint(dir), path.join(dir, 'step-000000000100.safetensors'));

  // A newer file that is cut short (written by something that does not rename atomically, or
  // damaged since) and a temporary file of a live writer are passed over.
  const newest = path.join(dir, 'step-000000000200.safetensors');
  copyFileSync(path.join(dir, 'step-000000000100.safetensors'), newest);
  truncateSync(newest, 100);
  writeFileSync(path.join(dir, `.step-000000000300.safetensors.${process.pid}.1.tmp`), 'partial');
  writeFileSync(path.join(dir, 'step-000000000400.safetensors.bak'), 'junk');
  assert.equal(latestCheckpoint(dir), path.join(dir, 'step-000000000100.safetensors'));
  assert.deepEqual(listCheckpoints(dir).map((c) => c.step), [3, 10, 100]);
  const ck = resumeLatest(dir, { model });
  assert.equal(ck?.step, 100);
  assert.deepEqual(ck?.progress, { step: 100 });
}));

test('saveCheckpoint removes temporary files left by killed writers', withDir((dir) => {
  const model = new Small(new RandomStream(1));
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const stale = `.step-000000000007.safetensors.${dead}.123.tmp`;
  const live = `.step-000000000008.safetensors.${process.pid}.456.tmp`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, stale), 'half a checkpoint');
  writeFileSync(path.join(dir, live), 'being written');
  saveCheckpoint(dir, 9, { model });
  assert.deepEqual(readdirSync(dir).sort(), [live, 'step-000000000009.safetensors']);
}));

test('saveModel / loadModel round trip with the config; loadModel also reads checkpoints', withDir((dir) => {
  const model = new Small(new RandomStream(1));
  train(model, optimizersFor(model), 2);
  const file = path.join(dir, 'serve', 'model.safetensors');
  const config = { rows: 10, dim: 4, name: 'small' };
  saveModel(file, model, config);
  assert.deepEqual(readModelConfig(file), config);
  assert.deepEqual([...readSafetensors(file).tensors.keys()].sort(), ['emb', 'stats', 'tower.b', 'tower.w']);
  const served = new Small(new RandomStream(8));
  assert.deepEqual(loadModel(file, served).config, config);
  assert.deepEqual(snapshot(served), snapshot(model));

  const ckpt = saveCheckpoint(path.join(dir, 'ckpt'), 2, { model, optimizers: optimizersFor(model) });
  const fromCkpt = new Small(new RandomStream(9));
  loadModel(ckpt, fromCkpt);
  assert.deepEqual(snapshot(fromCkpt), snapshot(model));

  const wrong = new Small(new RandomStream(8), { dim: 5 });
  const before = snapshot(wrong);
  expectMismatch(() => loadModel(file, wrong), file, `'emb' is F32 [10, 4] in the file but F32 [10, 5] in the model`, `'tower.w' is F32 [8, 1] in the file but F32 [10, 1] in the model`);
  assert.deepEqual(snapshot(wrong), before);

  // Deterministic bytes: the same model saves to the same file.
  const again = path.join(dir, 'again.safetensors');
  saveModel(again, served, config);
  assert.deepEqual(readFileSync(again), readFileSync(file));
}));

// ---------------------------------------------------------------------------------------------
// Kill and resume

const STEPS = 40;
const EVERY = 5;

function childEnv(): NodeJS.ProcessEnv {
  // The test runner's marker would make a child that imported node:test report to us.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return env;
}

function trainArgs(dir: string, extra: string[] = []): string[] {
  return [TRAIN_SCRIPT, '--dir', dir, '--steps', String(STEPS), '--every', String(EVERY), '--out', path.join(dir, 'final.safetensors'), ...extra];
}

function runToEnd(dir: string, extra: string[] = []): string {
  const run = spawnSync(process.execPath, trainArgs(dir, extra), { encoding: 'utf8', env: childEnv(), timeout: 60_000 });
  assert.equal(run.status, 0, `training failed:\n${run.stdout}\n${run.stderr}`);
  return run.stdout;
}

/** Starts a run, SIGKILLs it as soon as it prints `line`, and returns what it printed. */
async function runUntilKilled(dir: string, line: string, extra: string[] = []): Promise<string> {
  const child: ChildProcess = spawn(process.execPath, trainArgs(dir, extra), { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.split('\n').includes(line)) child.kill('SIGKILL');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const { code, signal } = await exited;
  clearTimeout(timer);
  assert.equal(signal, 'SIGKILL', `the run should have been killed at '${line}', but exited with ${code}:\n${out}\n${err}`);
  assert.ok(out.split('\n').includes(line), `the run was killed before '${line}':\n${out}\n${err}`);
  return out;
}

/** Every tensor of the final model and of the final checkpoint, bit for bit. */
function assertSameResult(expectedDir: string, actualDir: string): void {
  const last = `step-${String(STEPS).padStart(12, '0')}.safetensors`;
  for (const name of ['final.safetensors', last]) {
    const want = readSafetensors(path.join(expectedDir, name));
    const got = readSafetensors(path.join(actualDir, name));
    assert.deepEqual([...got.tensors.keys()].sort(), [...want.tensors.keys()].sort(), name);
    for (const [k, t] of want.tensors) {
      const a = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      const g = got.tensors.get(k)!.data;
      assert.ok(Buffer.from(a).equals(Buffer.from(g.buffer, g.byteOffset, g.byteLength)), `${name}: tensor '${k}' differs`);
    }
    assert.deepEqual(got.metadata, want.metadata, `${name}: metadata`);
    assert.deepEqual(readFileSync(path.join(actualDir, name)), readFileSync(path.join(expectedDir, name)), `${name}: bytes`);
  }
}

test('a killed training run resumes from its last checkpoint and reaches the same parameters as an uninterrupted run', withDir(async (dir) => {
  const straight = path.join(dir, 'straight');
  const killed = path.join(dir, 'killed');
  assert.match(runToEnd(straight), /^fresh\n(checkpoint \d+\n)+done 40 /);

  // Killed at step 18 (the last checkpoint is 15, so steps 16-18 are lost and redone), resumed,
  // killed again at 33, resumed to the end.
  const first = await runUntilKilled(killed, 'stalled 18', ['--stall-at', '18']);
  assert.match(first, /^fresh\n/);
  assert.equal(latestCheckpoint(killed), path.join(killed, 'step-000000000015.safetensors'));
  const second = await runUntilKilled(killed, 'stalled 33', ['--stall-at', '33']);
  assert.match(second, /^resumed 15\n/);
  assert.match(runToEnd(killed), /^resumed 30\ncheckpoint 35\ncheckpoint 40\ndone 40 /);
  assertSameResult(straight, killed);
}));

test('a run killed at an arbitrary moment also resumes to the same parameters', withDir(async (dir) => {
  const straight = path.join(dir, 'straight');
  runToEnd(straight);
  // No stall: the kill lands wherever the run is (a step, or the middle of writing checkpoint 15).
  const killed = path.join(dir, 'killed');
  await runUntilKilled(killed, 'checkpoint 10', ['--step-ms', '2']);
  assert.ok(latestCheckpoint(killed) !== null);
  assert.match(runToEnd(killed), /^resumed (10|15)\n/);
  assertSameResult(straight, killed);
  assert.deepEqual(readdirSync(killed).filter((f) => f.endsWith('.tmp')), []);
}));

test('the resume test is sensitive to the random state: a resume that forgets it does not match', withDir(async (dir) => {
  const straight = path.join(dir, 'straight');
  runToEnd(straight);
  const forgot = path.join(dir, 'forgot');
  await runUntilKilled(forgot, 'stalled 18', ['--stall-at', '18']);
  runToEnd(forgot, ['--forget-random']);
  assert.throws(() => assertSameResult(straight, forgot), /differs/);
}));
