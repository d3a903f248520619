/**
 * "Similar items": approximate nearest neighbours by cosine over the index's vectors, with
 * hnswlib (HNSW graphs; hnswlib-node binds the reference C++ library). The graph lives in the
 * process beside either backend: built from a scan of the index at start, then kept current by
 * the ingestion path, which adds each new vector as it writes it, and, on a shared index, by the
 * index's change feed, which brings the items other processes write.
 */
import hnswlib from 'hnswlib-node';
import type { ChangeFeed, SimilarItem, VectorIndex } from './types.js';

const { HierarchicalNSW } = hnswlib;

export interface AnnOptions {
  /** HNSW graph degree and construction beam (hnswlib's M and efConstruction). */
  m?: number;
  efConstruction?: number;
  /** Search beam; recall rises with it (hnswlib's ef). */
  ef?: number;
  seed?: number;
}

export class AnnIndex {
  private readonly graph: InstanceType<typeof HierarchicalNSW>;
  private readonly labelOf = new Map<string, number>();
  private readonly idOf: string[] = [];
  private capacity = 1024;
  private feed: ChangeFeed | null = null;

  constructor(
    readonly dim: number,
    { m = 16, efConstruction = 200, ef = 64, seed = 1 }: AnnOptions = {},
  ) {
    this.graph = new HierarchicalNSW('cosine', dim);
    this.graph.initIndex({ maxElements: this.capacity, m, efConstruction, randomSeed: seed });
    this.graph.setEf(ef);
  }

  /**
   * A graph over everything in `index` now, and, where the index has a change feed, everything
   * any process writes to it from now until close(). `onFeedError` hears of a failed read (the
   * feed retries).
   */
  static async build(index: VectorIndex, options: AnnOptions = {}, onFeedError?: (err: Error) => void): Promise<AnnIndex> {
    const ann = new AnnIndex(index.dim, options);
    const feed = index.changes ? await index.changes() : null;
    for await (const batch of index.scan()) for (const { id, vector } of batch) ann.add(id, vector);
    if (feed) {
      feed.follow((items) => {
        for (const { id, vector } of items) if (!ann.holds(id, vector)) ann.add(id, vector);
      }, onFeedError);
      ann.feed = feed;
    }
    return ann;
  }

  /** Stops following the index's changes. */
  async close(): Promise<void> {
    await this.feed?.stop();
    this.feed = null;
  }

  /** Whether the graph has `id` at this vector already (this process's own writes come back through the feed). */
  private holds(id: string, vector: Float32Array): boolean {
    const label = this.labelOf.get(id);
    if (label === undefined) return false;
    const stored = this.graph.getPoint(label);
    // hnswlib's cosine space keeps points normalised, as index vectors are.
    return stored.every((x, k) => Math.abs(x - vector[k]) < 1e-6);
  }

  get size(): number {
    return this.idOf.length;
  }

  /** Adds a vector, or replaces the item's earlier one (hnswlib updates a label in place). */
  add(id: string, vector: Float32Array): void {
    let label = this.labelOf.get(id);
    if (label === undefined) {
      label = this.idOf.length;
      if (label >= this.capacity) {
        this.capacity *= 2;
        this.graph.resizeIndex(this.capacity);
      }
      this.labelOf.set(id, label);
      this.idOf.push(id);
    }
    this.graph.addPoint(Array.from(vector), label);
  }

  has(id: string): boolean {
    return this.labelOf.has(id);
  }

  /** The k nearest items to a vector (best first), leaving out `exclude` (the query item itself). */
  nearest(vector: Float32Array, k: number, exclude?: string): SimilarItem[] {
    if (this.size === 0) return [];
    const skip = exclude === undefined ? undefined : this.labelOf.get(exclude);
    const want = Math.min(this.size, k + (skip === undefined ? 0 : 1));
    const found = this.graph.searchKnn(Array.from(vector), want);
    const out: SimilarItem[] = [];
    for (let i = 0; i < found.neighbors.length && out.length < k; i++) {
      if (found.neighbors[i] === skip) continue;
      // hnswlib's cosine "distance" is 1 - cosine.
      out.push({ id: this.idOf[found.neighbors[i]], score: 1 - found.distances[i] });
    }
    return out;
  }
}
