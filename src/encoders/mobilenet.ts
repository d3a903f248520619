/**
 * The built-in image backbone: MobileNetV2 (weights from the nsfwjs@4.3.0 package), 1280-d
 * average-pool features, on either runtime: tfjs-wasm, or onnxruntime-node over the converted
 * graph (mobilenet-onnx.ts). Parallelism comes from worker_threads, one model per worker, fed
 * chunks of images from a shared queue: tfjs's wasm backend has no threads under Node, and
 * MobileNetV2's small convolutions scale worse over onnxruntime's intra-op threads (which also
 * spin-wait on a core another job holds) than over whole images. `workers: 0` runs in the
 * calling thread (tests, tiny jobs).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { EncoderError } from './errors.js';
import { loadMobileNetCore, MOBILENET_DIM, MOBILENET_ID, MOBILENET_SIZE } from './mobilenet-core.js';
import { OnnxImageBackbone, type OnnxBackboneOptions } from './onnx-backbone.js';
import type { ImageBackbone } from './types.js';

export { MOBILENET_DIM, MOBILENET_ID } from './mobilenet-core.js';

export interface MobileNetOptions {
  /** 'tfjs' (default) or 'onnx': the converted graph in `onnxFile` (mobilenet-onnx.ts `mobilenetOnnxFile`). */
  runtime?: 'tfjs' | 'onnx';
  onnxFile?: string;
  /** What `onnxFile` gives when it is not the pooled features (the network cut below its trainable top: mobilenet-onnx.ts `mobilenetCutId`); onnx only. */
  output?: { id: string; dim: number };
  /** Worker threads, each with its own model; 0 = in-process. Default: available cores (max 8). */
  workers?: number;
  /** Images per forward pass. Default 8 (tfjs), 4 (onnx: larger batches are slower per image there). */
  batchSize?: number;
  /** Images per message to a worker (load balancing). Default 32. */
  chunk?: number;
}

/** What a pool worker loads (mobilenet-worker.ts). */
export type WorkerModel = { runtime: 'tfjs'; batchSize: number } | { runtime: 'onnx'; options: OnnxBackboneOptions };

type Failed = { index: number; reason: string }[];
type Core = Pick<ImageBackbone, 'encode'> & { dispose(): Promise<void> | void };
type Reply = { type: 'ready' } | { type: 'done'; id: number; features: Float32Array; failed: Failed } | { type: 'error'; id: number; message: string };

class PoolWorker {
  private readonly pending = new Map<number, { resolve: (r: { features: Float32Array; failed: Failed }) => void; reject: (e: Error) => void }>();
  private next = 0;
  readonly ready: Promise<void>;
  private fatal: Error | null = null;

  constructor(private readonly worker: Worker) {
    this.ready = new Promise((resolve, reject) => {
      worker.on('message', (m: Reply) => {
        if (m.type === 'ready') return resolve();
        if (m.type === 'error' && m.id === -1) return reject(new EncoderError(`MobileNetV2 worker failed to load: ${m.message}`));
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.type === 'done') p.resolve({ features: m.features, failed: m.failed });
        else p.reject(new EncoderError(`MobileNetV2 worker: ${m.message}`));
      });
      const die = (err: Error) => {
        this.fatal = err;
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      };
      worker.on('error', die);
      worker.on('exit', (code) => {
        if (code !== 0) die(new EncoderError(`MobileNetV2 worker exited with code ${code}`));
      });
    });
    this.ready.catch(() => {});
  }

  run(paths: string[]): Promise<{ features: Float32Array; failed: Failed }> {
    if (this.fatal) return Promise.reject(this.fatal);
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, paths });
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export class MobileNetV2Backbone implements ImageBackbone {
  private constructor(
    readonly id: string,
    readonly dim: number,
    private readonly core: Core | null,
    private readonly pool: PoolWorker[],
    private readonly chunk: number,
  ) {}

  /** Loads the model(s): in-process, or one per worker thread (in parallel). */
  static async load(options: MobileNetOptions = {}): Promise<MobileNetV2Backbone> {
    const workers = options.workers ?? Math.min(8, availableParallelism());
    const runtime = options.runtime ?? 'tfjs';
    const batchSize = options.batchSize ?? (runtime === 'tfjs' ? 8 : 4);
    const chunk = options.chunk ?? 32;
    if (!Number.isInteger(workers) || workers < 0) throw new EncoderError(`MobileNetV2: workers must be a non-negative integer, got ${workers}`);
    const { id, dim } = options.output ?? { id: MOBILENET_ID, dim: MOBILENET_DIM };
    let model: WorkerModel;
    if (runtime === 'tfjs') {
      if (options.output) throw new EncoderError(`MobileNetV2: ${id} is read from the converted graph, which the onnx runtime runs, not tfjs`);
      model = { runtime, batchSize };
    } else {
      if (!options.onnxFile) throw new EncoderError('MobileNetV2: the onnx runtime needs the converted graph (onnxFile)');
      const onnx: OnnxBackboneOptions = { file: options.onnxFile, id, inputSize: MOBILENET_SIZE, mean: [0, 0, 0], std: [1, 1, 1], layout: 'NCHW', pooling: 'none', batchSize };
      model = { runtime, options: onnx };
    }
    if (workers === 0) {
      if (model.runtime === 'tfjs') return new MobileNetV2Backbone(id, dim, await loadMobileNetCore(batchSize), [], chunk);
      const b = await OnnxImageBackbone.load({ ...model.options, threads: 1 });
      if (b.dim !== dim) {
        await b.close();
        throw new EncoderError(`MobileNetV2: ${options.onnxFile} gives ${b.dim} values an image, ${id} has ${dim}`);
      }
      return new MobileNetV2Backbone(id, dim, { encode: (paths) => b.encode(paths), dispose: () => b.close() }, [], chunk);
    }
    const url = new URL('./mobilenet-worker.js', import.meta.url);
    const pool = Array.from({ length: workers }, () => new PoolWorker(new Worker(url, { workerData: model })));
    try {
      await Promise.all(pool.map((w) => w.ready));
    } catch (err) {
      await Promise.all(pool.map((w) => w.terminate()));
      throw err;
    }
    return new MobileNetV2Backbone(id, dim, null, pool, chunk);
  }

  async encode(images: readonly string[]): Promise<{ features: Float32Array; failed: Failed }> {
    if (this.core) return this.core.encode(images);
    if (!this.pool.length) throw new EncoderError('MobileNetV2: backbone is closed');
    const features = new Float32Array(images.length * this.dim);
    const failed: Failed = [];
    // A shared queue of chunks; each worker takes the next chunk when it finishes one.
    let nextStart = 0;
    const drain = async (w: PoolWorker) => {
      while (nextStart < images.length) {
        const start = nextStart;
        nextStart += this.chunk;
        const r = await w.run(images.slice(start, start + this.chunk));
        features.set(r.features, start * this.dim);
        for (const f of r.failed) failed.push({ index: start + f.index, reason: f.reason });
      }
    };
    await Promise.all(this.pool.map(drain));
    failed.sort((a, b) => a.index - b.index);
    return { features, failed };
  }

  async close(): Promise<void> {
    await this.core?.dispose();
    const pool = this.pool.splice(0);
    await Promise.all(pool.map((w) => w.terminate()));
  }
}
