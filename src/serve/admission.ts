/**
 * Admission control: the service takes only the work it can finish in time and answers the rest
 * at once with 503 + Retry-After, so overload costs a client a retry instead of a timeout.
 *
 *   - A bound on requests in flight (all routes but health, readiness and metrics), checked when
 *     a request arrives, before its body is read.
 *   - Ranking runs through a FIFO of bounded length (and no longer than the slots score within
 *     the deadline at the measured pace), scored `concurrency` at a time (1 on the main
 *     thread, one per ranking thread). One job starts per event-loop turn, so between two forward
 *     passes Node reads every request that has arrived: each is timestamped when it really arrives
 *     instead of waiting unseen in the socket buffers behind a busy loop (which is how an open
 *     loop past capacity used to time out with not one 503).
 *   - A ranking request that has waited longer than the deadline since it arrived is answered 503
 *     when its turn comes, without being scored: its client has likely given up.
 */
import { Overloaded } from './http.js';

export interface AdmissionLimits {
  /** Requests being received or handled at once. */
  inFlight: number;
  /** Ranking requests waiting for a scoring slot. */
  rankQueue: number;
  /** ms since arrival after which a waiting ranking request is shed instead of scored. */
  rankDeadlineMs: number;
}

interface Waiting {
  waited: () => number;
  work: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

export interface AdmissionEvents {
  /** A request refused at arrival (in flight) or at queueing (queue full). */
  onRefused?: (reason: 'in_flight' | 'rank_queue') => void;
  /** A queued ranking request that waited past the deadline. */
  onShed?: () => void;
}

export class Admission {
  private inFlight = 0;
  private running = 0;
  private readonly queue: Waiting[] = [];
  private pumping = false;
  /** Moving average of a scoring job's wall time (ms). */
  private jobMs = 0;

  constructor(
    readonly limits: AdmissionLimits,
    private readonly concurrency: number,
    private readonly events: AdmissionEvents = {},
  ) {}

  get requestsInFlight(): number {
    return this.inFlight;
  }

  get rankQueueLength(): number {
    return this.queue.length;
  }

  /** Call when a request arrives; false: refuse it (503). A true must be paired with leave(). */
  enter(): boolean {
    if (this.inFlight >= this.limits.inFlight) {
      this.events.onRefused?.('in_flight');
      return false;
    }
    this.inFlight++;
    return true;
  }

  leave(): void {
    this.inFlight--;
  }

  /**
   * Whether a new ranking request would find the queue full (checked before its body is read):
   * past `rankQueue`, or past what the slots score within the deadline at the measured pace, so
   * an admitted request is scored in time on a slow or busy machine too, instead of being shed
   * after it waited.
   */
  get rankQueueFull(): boolean {
    const inTime = this.jobMs > 0 ? Math.max(1, Math.floor((this.limits.rankDeadlineMs * this.concurrency) / this.jobMs)) : Infinity;
    return this.queue.length >= Math.min(this.limits.rankQueue, inTime);
  }

  /** Whether a ranking request may queue now; a refusal is reported. */
  roomForRanking(): boolean {
    if (!this.rankQueueFull) return true;
    this.events.onRefused?.('rank_queue');
    return false;
  }

  private measured(ms: number): void {
    this.jobMs = this.jobMs === 0 ? ms : 0.9 * this.jobMs + 0.1 * ms;
  }

  /**
   * Runs `work` when a scoring slot is free. Rejects with Overloaded when the queue is full, or
   * when the request (`waited()`: ms since it arrived) is past the deadline by its turn.
   */
  schedule<T>(waited: () => number, work: () => T | Promise<T>): Promise<T> {
    if (!this.roomForRanking()) return Promise.reject(new Overloaded(`the ranking queue is full (${this.queue.length} requests waiting): the server is overloaded, retry later`));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ waited, work, resolve: resolve as (v: unknown) => void, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.pumping || this.queue.length === 0 || this.running >= this.concurrency) return;
    this.pumping = true;
    // The next job starts on the next turn of the loop, after Node has read what has arrived.
    setImmediate(() => {
      this.pumping = false;
      const deadline = this.limits.rankDeadlineMs;
      while (this.queue.length > 0 && this.running < this.concurrency) {
        const job = this.queue.shift()!;
        const waited = job.waited();
        if (waited > deadline) {
          this.events.onShed?.();
          job.reject(new Overloaded(`the request waited ${Math.round(waited)} ms for a scoring slot (deadline ${deadline} ms): the server is overloaded, retry later`));
          continue;
        }
        this.running++;
        const started = performance.now();
        let result: unknown;
        try {
          result = job.work();
        } catch (err) {
          result = Promise.reject(err);
        }
        Promise.resolve(result)
          .then(job.resolve, job.reject)
          .finally(() => {
            this.measured(performance.now() - started);
            this.running--;
            this.pump();
          });
        // Synchronous work (the main thread) is one job per turn; threads take several.
        if (this.concurrency === 1) break;
      }
      this.pump();
    });
  }
}
