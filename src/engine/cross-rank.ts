/**
 * Sums over the ranks of a data-parallel run, for the ops whose training pass reduces over the
 * batch (Dice's batch statistics). One process (no run set it) sums over nothing: the ops use
 * their batch alone. `distributed/` sets it for the life of a distributed fit; the engine does
 * not know MPI.
 */
export type CrossRankSum = (values: Float64Array) => void;

let current: CrossRankSum | null = null;

/** The sum in force, or null outside a data-parallel run. */
export function crossRankSum(): CrossRankSum | null {
  return current;
}

/** Sets (or, with null, clears) the sum over ranks; returns the one it replaces. */
export function setCrossRankSum(sum: CrossRankSum | null): CrossRankSum | null {
  const before = current;
  current = sum;
  return before;
}
