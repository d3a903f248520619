/**
 * Ranking: one request (a user's behaviours + candidate ads) -> one Batch of B = candidates rows,
 * each with the same behaviour sequence, scored by the CTR model in one forward pass.
 *
 * Ids unknown to the model's ID tables (ads launched after training) take catalogue index 0 and
 * are counted; their content still reaches the model through `batch.vectors`, which is always
 * set from the live index — that is how a new ad gets a sensible score seconds after ingestion.
 * Items with no vector yet (not encoded) get vector row 0 ("no vector") and are counted.
 */
import { noGrad } from '../engine/autograd.js';
import type { Batch } from '../data/batches.js';
import type { ServingModel } from './model-state.js';

export interface RankInput {
  /** Behaviour item ids, oldest first (the most recent last, as the models were trained). */
  behaviours: readonly string[];
  candidates: readonly string[];
  userId?: string;
}

export interface RankOutput {
  /** Candidates by descending pCTR. */
  items: { id: string; pctr: number }[];
  /** Candidates / behaviours the ID tables do not know; whether the user was unknown. */
  unknownCandidates: number;
  unknownBehaviours: number;
  unknownUser: boolean;
  /** Candidates / behaviours without a vector in the index. */
  missingCandidateVectors: number;
  missingBehaviourVectors: number;
  /** Behaviours beyond the model's history length (the oldest are dropped). */
  droppedBehaviours: number;
}

/** The ids whose vectors a request needs: the kept behaviours and the candidates, each once. */
export function idsToFetch(model: ServingModel, input: RankInput): { behaviours: readonly string[]; unique: string[] } {
  const behaviours = input.behaviours.length > model.historyLength ? input.behaviours.slice(-model.historyLength) : input.behaviours;
  const unique = [...new Set([...input.candidates, ...behaviours])];
  return { behaviours, unique };
}

/**
 * Scores the candidates. `vectors` holds the vector (or null) of every id of idsToFetch().unique,
 * in that order; `dim` is the index's vector width. Scored by the model's backend: the native
 * forward pass, or onnxruntime (model.onnx).
 */
export async function rankCandidates(model: ServingModel, input: RankInput, unique: readonly string[], vectors: readonly (Float32Array | null)[], dim: number): Promise<RankOutput> {
  const { batch, counts } = rankingBatch(model, input, unique, vectors, dim);
  const logits = model.onnx ? await model.onnx.score(batch) : noGrad(() => model.model.forward(batch)).data;
  return ranked(input.candidates, logits, counts);
}

/** One small request on a freshly loaded model before it serves, so the first real request pays no first-call costs. */
export async function warmUp(model: ServingModel, dim: number): Promise<void> {
  const ids = Array.from({ length: Math.min(4, model.itemIndex.size) }, (_, i) => model.itemIndex.at(i)!);
  await rankCandidates(model, { behaviours: ids.slice(0, 2), candidates: ids.length ? ids : ['warm-up'] }, [], [], dim);
}

type RankCounts = Omit<RankOutput, 'items'>;

function ranked(candidates: readonly string[], logits: Float32Array, counts: RankCounts): RankOutput {
  const items = candidates.map((id, i) => ({ id, pctr: 1 / (1 + Math.exp(-logits[i])) }));
  items.sort((a, b) => b.pctr - a.pctr);
  return { items, ...counts };
}

/** The request as one Batch (B = candidates rows sharing one behaviour sequence) and what it could not resolve. */
function rankingBatch(model: ServingModel, input: RankInput, unique: readonly string[], vectors: readonly (Float32Array | null)[], dim: number): { batch: Batch; counts: RankCounts } {
  const L = model.historyLength;
  const B = input.candidates.length;
  const kept = input.behaviours.length > L ? input.behaviours.slice(-L) : input.behaviours;
  const n = kept.length;

  // The vector table: row 0 = no vector, then one row per id that has one.
  const rowOfId = new Map<string, number>();
  const table = new Float32Array((1 + unique.length) * dim);
  let rows = 1;
  unique.forEach((id, k) => {
    const v = vectors[k];
    if (!v) return;
    table.set(v, rows * dim);
    rowOfId.set(id, rows++);
  });

  const histItems = new Int32Array(n), histRows = new Int32Array(n);
  let unknownBehaviours = 0, missingBehaviourVectors = 0;
  for (let j = 0; j < n; j++) {
    const ix = model.itemIndex.indexOf(kept[j]);
    if (ix === 0) unknownBehaviours++;
    histItems[j] = ix;
    const r = rowOfId.get(kept[j]) ?? 0;
    if (r === 0) missingBehaviourVectors++;
    histRows[j] = r;
  }

  const user = input.userId === undefined ? 0 : model.userIndex.indexOf(input.userId);
  const item = new Int32Array(B), targetRows = new Int32Array(B), isNew = new Uint8Array(B);
  let unknownCandidates = 0, missingCandidateVectors = 0;
  for (let i = 0; i < B; i++) {
    const id = input.candidates[i];
    const ix = model.itemIndex.indexOf(id);
    if (ix === 0) {
      unknownCandidates++;
      isNew[i] = 1;
    }
    item[i] = ix;
    const r = rowOfId.get(id) ?? 0;
    if (r === 0) missingCandidateVectors++;
    targetRows[i] = r;
  }

  const hist = new Int32Array(B * L), vhist = new Int32Array(B * L);
  for (let i = 0; i < B; i++) {
    hist.set(histItems, i * L);
    vhist.set(histRows, i * L);
  }
  const batch: Batch = {
    size: B,
    index: Int32Array.from({ length: B }, (_, i) => i),
    user: new Int32Array(B).fill(user),
    item,
    label: new Float32Array(B),
    ts: new Float64Array(B).fill(Date.now() / 1000),
    hist,
    histLen: new Int32Array(B).fill(n),
    freq: new Int32Array(B),
    isNew,
    vectors: { table: table.subarray(0, rows * dim), dim, target: targetRows, hist: vhist },
    sharedHistory: true,
  };
  return {
    batch,
    counts: {
      unknownCandidates,
      unknownBehaviours,
      unknownUser: input.userId !== undefined && user === 0,
      missingCandidateVectors,
      missingBehaviourVectors,
      droppedBehaviours: input.behaviours.length - n,
    },
  };
}
