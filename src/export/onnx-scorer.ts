/**
 * Scores batches with an exported model in onnxruntime-node: the ONNX backend of a service
 * (`mmctr serve --backend onnx`) and the parity tests. onnxruntime-node is an optional peer
 * dependency (hundreds of MB), loaded only when a scorer is opened (util/onnx-runtime.ts).
 *
 * The scorer turns the engine's `Batch` (catalogue indices, vector rows of `batch.vectors`) into
 * the graph's inputs (export/onnx.ts), so the same batch scores the same on either backend. A
 * ranking batch (`sharedHistory`) sends its one history once (H = 1).
 */
import type * as Ort from 'onnxruntime-node';
import type { Batch } from '../data/batches.js';
import { MmctrError } from '../util/errors.js';
import { loadOnnxRuntime } from '../util/onnx-runtime.js';
import type { OnnxGraph } from './onnx.js';
import { readSideFile, type OnnxSideFile } from './run-export.js';

/** What scoring needs to know of an exported model: its inputs, L and vector width (a side file has them, and so does an OnnxGraph). */
export type ScoringContract = Pick<OnnxSideFile, 'inputs' | 'historyLength' | 'vectorDim'>;


export interface OnnxScorerOptions {
  /** onnxruntime's intra-op threads (default: its own choice, one per core). */
  threads?: number;
}

export class OnnxScorer {
  private constructor(
    private readonly ort: typeof Ort,
    private readonly session: Ort.InferenceSession,
    readonly side: ScoringContract,
  ) {}

  /** Opens `file` (an `mmctr export onnx` output; its side file `<file>.json` beside it). */
  static async open(file: string, options: OnnxScorerOptions = {}): Promise<OnnxScorer> {
    return OnnxScorer.create(file, readSideFile(file), options);
  }

  /** A scorer of a graph in memory (exportOnnx's result), without files. */
  static async fromGraph(graph: OnnxGraph, options: OnnxScorerOptions = {}): Promise<OnnxScorer> {
    return OnnxScorer.create(graph.bytes, graph, options);
  }

  private static async create(model: string | Uint8Array, side: ScoringContract, options: OnnxScorerOptions): Promise<OnnxScorer> {
    const ort = await loadOnnxRuntime('scoring with an ONNX model');
    const sessionOptions: Ort.InferenceSession.SessionOptions = {
      ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
      graphOptimizationLevel: 'all',
    };
    const session = typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions) : await ort.InferenceSession.create(model, sessionOptions);
    return new OnnxScorer(ort, session, side);
  }

  /** Logits [B] of the batch (the model's forward pass; pCTR = sigmoid). */
  async score(batch: Batch): Promise<Float32Array> {
    const feeds = this.feeds(batch);
    const out = await this.session.run(feeds, ['logit']);
    return out.logit.data as Float32Array;
  }

  /** The graph inputs of a batch, by name (only those the model declares). */
  private feeds(batch: Batch): Record<string, Ort.Tensor> {
    const { Tensor } = this.ort;
    const B = batch.size, L = this.side.historyLength;
    if (batch.hist.length !== B * L) throw new MmctrError(`the batch has ${batch.hist.length / Math.max(B, 1)} behaviours per row, the exported model takes ${L}`);
    const H = batch.sharedHistory ? 1 : B;
    const histMask = new Float32Array(H * L);
    for (let h = 0; h < H; h++) histMask.fill(1, h * L, h * L + batch.histLen[h]);
    const all: Record<string, () => Ort.Tensor> = {
      item: () => new Tensor('int64', BigInt64Array.from(batch.item, BigInt), [B]),
      user: () => new Tensor('int64', BigInt64Array.from(batch.user, BigInt), [B]),
      hist_items: () => new Tensor('int64', BigInt64Array.from(batch.hist.subarray(0, H * L), BigInt), [H, L]),
      hist_mask: () => new Tensor('float32', histMask, [H, L]),
      ...this.vectorFeeds(batch, H, L),
    };
    const feeds: Record<string, Ort.Tensor> = {};
    for (const { name } of this.side.inputs) feeds[name] = all[name]();
    return feeds;
  }

  private vectorFeeds(batch: Batch, H: number, L: number): Record<string, () => Ort.Tensor> {
    const D = this.side.vectorDim;
    if (D === null) return {};
    const v = batch.vectors;
    if (!v) throw new MmctrError('the exported model reads item vectors: the batch must carry them (Batch.vectors), as a ranking batch does');
    if (v.dim !== D) throw new MmctrError(`the batch carries ${v.dim}-d item vectors, the exported model takes ${D}-d`);
    const { Tensor } = this.ort;
    const gather = (rows: Int32Array) => {
      const out = new Float32Array(rows.length * D), has = new Float32Array(rows.length);
      rows.forEach((r, i) => {
        if (r === 0) return;
        out.set(v.table.subarray(r * D, (r + 1) * D), i * D);
        has[i] = 1;
      });
      return { out, has };
    };
    const target = gather(v.target), hist = gather(v.hist.subarray(0, H * L));
    return {
      target_vector: () => new Tensor('float32', target.out, [batch.size, D]),
      target_has_vector: () => new Tensor('float32', target.has, [batch.size]),
      hist_vectors: () => new Tensor('float32', hist.out, [H, L, D]),
      hist_has_vector: () => new Tensor('float32', hist.has, [H, L]),
    };
  }

  /** Frees the session's native memory. */
  async close(): Promise<void> {
    await this.session.release();
  }
}
