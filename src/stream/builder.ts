/**
 * Samples built online with the batch rules. `data/labels.ts` and `data/samples.ts` label and
 * give histories over the whole log sorted by (time, file order); this does the same over events
 * as they arrive, in bounded state:
 *
 * - Order. Events wait in a reorder buffer until the watermark (the newest time seen minus
 *   `latenessSeconds`) passes them, and are then applied in (time, arrival order), the batch's
 *   (time, file order). An event older than the watermark would have to go before events already
 *   applied: it is late, counted and reported (never applied, never silently gone).
 * - Labels. An impression with its own label is labelled at once. Otherwise a positive event
 *   labels the latest earlier impression of the same user and item at most `clickWindowSeconds`
 *   before it, of the same request when both name one (labels.ts); the impression is labelled 1
 *   when that happens, and 0 once its window has closed (the watermark is more than the window past
 *   it). An impression stays a match candidate until its window closes, labelled or not, so a
 *   second click goes where the batch sends it.
 * - Histories. A sample's history is the user's behaviours strictly before it (ties: 'exclude'
 *   leaves out those of the same time, 'file-order' counts earlier arrivals), the last L, oldest
 *   first, snapshot when the impression is applied. Behaviours are events of the history types and,
 *   when the positive type is one, own-clicked impressions that no positive matched: such an
 *   impression is a behaviour only once its window closes unmatched, so a later sample of the same
 *   user waits until then (rare: a clicked impression normally has its click event right after).
 * - Emission. A sample is emitted when its label is final and the behaviours it waits on are
 *   settled: the training order is the order labels became final. At the end of a finite log every
 *   window closes, as the batch sees the whole log.
 *
 * Per user the state is the last L behaviours (plus those of the newest time, under 'exclude');
 * open impressions are bounded by the window, the reorder buffer by the lateness. All of it is
 * plain JSON (`state()` / `SampleBuilder.restore`) for the trainer's checkpoints.
 */
import type { SampleConfig } from '../data/sample-config.js';
import type { Problem, StreamEvent } from './events.js';

/** A finished sample: ids as text, history oldest first. */
export interface StreamSample {
  user: string;
  item: string;
  label: number;
  ts: number;
  hist: string[];
  /** The impression's place in the stream (arrival order), for reports and tie-free sorting. */
  seq: number;
}

export interface BuilderConfig {
  historyLength: number;
  ties: SampleConfig['ties'];
  clickWindowSeconds: number;
  /** Events up to this many seconds older than the newest one seen are put in order; older ones are late. */
  latenessSeconds: number;
}

/** A behaviour: item, time, arrival order. */
type Behaviour = [item: string, ts: number, seq: number];

interface Open {
  user: string;
  item: string;
  ts: number;
  seq: number;
  rid: string | null;
  /** The impression's own label, else null. */
  own: boolean | null;
  /** The label once final. */
  label: 0 | 1 | null;
  matched: boolean;
  /** Own-clicked and a history role: a behaviour if its window closes unmatched. */
  tentative: boolean;
  /** The qualifying behaviours when it was applied (the last L). */
  hist: Behaviour[];
  /** Seqs of the user's unsettled tentative impressions before it. */
  waits: number[];
  emitted: boolean;
}

interface Queued extends StreamEvent {
  seq: number;
}

export interface BuilderState {
  version: 1;
  config: BuilderConfig;
  nextSeq: number;
  maxTs: number | null;
  queued: Queued[];
  open: Open[];
  users: [string, Behaviour[]][];
  counts: BuilderCounts;
}

export interface BuilderCounts {
  events: number;
  applied: number;
  late: number;
  samples: number;
  /** Positive events that matched an impression. */
  matched: number;
}

const before = (a: { ts: number; seq: number }, b: { ts: number; seq: number }) => a.ts < b.ts || (a.ts === b.ts && a.seq < b.seq);

/** A binary min-heap on (ts, seq). */
class EventHeap {
  constructor(readonly items: Queued[] = []) {
    for (let i = (items.length >> 1) - 1; i >= 0; i--) this.down(i);
  }
  get size(): number {
    return this.items.length;
  }
  peek(): Queued | undefined {
    return this.items[0];
  }
  push(e: Queued): void {
    const a = this.items;
    a.push(e);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!before(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): Queued {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      this.down(0);
    }
    return top;
  }
  private down(i: number): void {
    const a = this.items;
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < a.length && before(a[l], a[m])) m = l;
      if (r < a.length && before(a[r], a[m])) m = r;
      if (m === i) return;
      [a[i], a[m]] = [a[m], a[i]];
      i = m;
    }
  }
}

export class SampleBuilder {
  private nextSeq = 0;
  private maxTs: number | null = null;
  private readonly heap: EventHeap;
  /** Open impressions in (ts, seq) order: the front closes first. */
  private open: Open[] = [];
  private openHead = 0;
  /** Open impressions per user and item, oldest first: the match candidates. */
  private readonly candidates = new Map<string, Open[]>();
  /** Samples waiting on a tentative impression, by its seq. */
  private readonly waiters = new Map<number, Open[]>();
  private readonly users = new Map<string, Behaviour[]>();
  private readonly tentatives = new Map<string, Open[]>();
  readonly counts: BuilderCounts = { events: 0, applied: 0, late: 0, samples: 0, matched: 0 };

  constructor(
    readonly config: BuilderConfig,
    private readonly onSample: (s: StreamSample) => void,
    private readonly onLate: (p: Problem) => void = () => {},
    queued: Queued[] = [],
  ) {
    if (!(config.clickWindowSeconds >= 0)) throw new RangeError(`clickWindowSeconds must be a non-negative number, got ${config.clickWindowSeconds}`);
    if (!(config.latenessSeconds >= 0)) throw new RangeError(`latenessSeconds must be a non-negative number, got ${config.latenessSeconds}`);
    this.heap = new EventHeap(queued);
  }

  /** The newest time seen minus the lateness: events older than this are late. */
  get watermark(): number {
    return this.maxTs === null ? -Infinity : this.maxTs - this.config.latenessSeconds;
  }

  /** Events waiting in the reorder buffer, and impressions whose window is open. */
  get pending(): { queued: number; open: number } {
    return { queued: this.heap.size, open: this.open.length - this.openHead };
  }

  /** Takes one event (`at` names it in the late report); applies what the watermark lets through. */
  push(event: StreamEvent, at: string): void {
    this.counts.events++;
    // Everything applied so far is older than the watermark, so an event at or past it goes after them.
    const floor = this.watermark;
    if (event.ts < floor) {
      this.counts.late++;
      this.onLate({ at, field: 'ts', value: String(event.ts), message: `is late: older than the stream's watermark ${floor} (the newest time seen minus latenessSeconds ${this.config.latenessSeconds}); not applied` });
      return;
    }
    this.heap.push({ ...event, seq: this.nextSeq++ });
    if (this.maxTs === null || event.ts > this.maxTs) this.maxTs = event.ts;
    const w = this.watermark;
    while (this.heap.size && this.heap.peek()!.ts < w) this.apply(this.heap.pop());
    this.closeBefore(w);
  }

  /** The end of a finite log: every queued event applied, every window closed. */
  end(): void {
    while (this.heap.size) this.apply(this.heap.pop());
    this.closeBefore(Infinity);
  }

  private apply(e: Queued): void {
    this.counts.applied++;
    this.closeBefore(e.ts);
    if (e.type === 'impression') this.impression(e);
    if (e.positive) this.match(e);
    if (e.type !== 'impression' && e.inHistory) this.addBehaviour(e.user, [e.item, e.ts, e.seq]);
  }

  /** Closes the windows that no event at `t` or later can match. */
  private closeBefore(t: number): void {
    const w = this.config.clickWindowSeconds;
    while (this.openHead < this.open.length && t - this.open[this.openHead].ts > w) {
      const o = this.open[this.openHead++];
      const key = `${o.user}\u0000${o.item}`;
      const list = this.candidates.get(key)!;
      list.splice(list.indexOf(o), 1);
      if (list.length === 0) this.candidates.delete(key);
      if (o.label === null) o.label = 0;
      if (o.tentative) this.settle(o, !o.matched);
      this.tryEmit(o);
    }
    // Keep the array from growing without end.
    if (this.openHead > 1024 && this.openHead * 2 > this.open.length) {
      this.open = this.open.slice(this.openHead);
      this.openHead = 0;
    }
  }

  private impression(e: Queued): void {
    const o: Open = {
      user: e.user,
      item: e.item,
      ts: e.ts,
      seq: e.seq,
      rid: e.requestId,
      own: e.clicked,
      label: e.clicked === null ? null : e.clicked ? 1 : 0,
      matched: false,
      tentative: e.inHistory && e.clicked === true,
      hist: this.snapshot(e.user, e.ts, e.seq),
      waits: [],
      emitted: false,
    };
    for (const t of this.tentatives.get(e.user) ?? []) {
      if (!this.qualifies(t, e.ts, e.seq)) continue;
      o.waits.push(t.seq);
      let list = this.waiters.get(t.seq);
      if (!list) this.waiters.set(t.seq, (list = []));
      list.push(o);
    }
    if (o.tentative) {
      let list = this.tentatives.get(o.user);
      if (!list) this.tentatives.set(o.user, (list = []));
      list.push(o);
    }
    this.open.push(o);
    const key = `${o.user}\u0000${o.item}`;
    let list = this.candidates.get(key);
    if (!list) this.candidates.set(key, (list = []));
    list.push(o);
    this.tryEmit(o);
  }

  /** labels.ts's match: the latest open impression of the same user, item and (when both name one) request. */
  private match(c: Queued): void {
    const list = this.candidates.get(`${c.user}\u0000${c.item}`);
    if (!list) return;
    for (let k = list.length - 1; k >= 0; k--) {
      const o = list[k];
      if (o.rid !== null && c.requestId !== null && o.rid !== c.requestId) continue;
      this.counts.matched++;
      if (o.matched) return;
      o.matched = true;
      if (o.label === null) o.label = 1;
      if (o.tentative) this.settle(o, false);
      this.tryEmit(o);
      return;
    }
  }

  /** A tentative impression is settled: a behaviour (its window closed unmatched) or not (matched). */
  private settle(t: Open, isBehaviour: boolean): void {
    const list = this.tentatives.get(t.user)!;
    list.splice(list.indexOf(t), 1);
    if (list.length === 0) this.tentatives.delete(t.user);
    t.tentative = false;
    const b: Behaviour = [t.item, t.ts, t.seq];
    if (isBehaviour) this.addBehaviour(t.user, b);
    for (const s of this.waiters.get(t.seq) ?? []) {
      s.waits.splice(s.waits.indexOf(t.seq), 1);
      if (isBehaviour) s.hist = this.lastL([...s.hist, b].sort((x, y) => x[1] - y[1] || x[2] - y[2]));
      this.tryEmit(s);
    }
    this.waiters.delete(t.seq);
  }

  private tryEmit(o: Open): void {
    if (o.emitted || o.label === null || o.waits.length > 0) return;
    o.emitted = true;
    this.counts.samples++;
    this.onSample({ user: o.user, item: o.item, label: o.label, ts: o.ts, hist: o.hist.map((b) => b[0]), seq: o.seq });
    o.hist = [];
  }

  private qualifies(b: { ts: number; seq: number }, ts: number, seq: number): boolean {
    return this.config.ties === 'exclude' ? b.ts < ts : before(b, { ts, seq });
  }

  private lastL<T>(a: T[]): T[] {
    return a.length > this.config.historyLength ? a.slice(a.length - this.config.historyLength) : a;
  }

  private snapshot(user: string, ts: number, seq: number): Behaviour[] {
    const list = this.users.get(user);
    if (!list) return [];
    let n = list.length;
    while (n > 0 && !this.qualifies({ ts: list[n - 1][1], seq: list[n - 1][2] }, ts, seq)) n--;
    return list.slice(Math.max(0, n - this.config.historyLength), n);
  }

  /**
   * Inserts a behaviour in (ts, seq) order and trims: the last L, plus (under 'exclude') every
   * behaviour of the newest time, which later samples of that same time must not see yet.
   */
  private addBehaviour(user: string, b: Behaviour): void {
    let list = this.users.get(user);
    if (!list) this.users.set(user, (list = []));
    let k = list.length;
    while (k > 0 && (list[k - 1][1] > b[1] || (list[k - 1][1] === b[1] && list[k - 1][2] > b[2]))) k--;
    list.splice(k, 0, b);
    const L = this.config.historyLength;
    let group = list.length;
    if (this.config.ties === 'exclude') while (group > 0 && list[group - 1][1] === list[list.length - 1][1]) group--;
    if (group > L) list.splice(0, group - L);
  }

  state(): BuilderState {
    return {
      version: 1,
      config: this.config,
      nextSeq: this.nextSeq,
      maxTs: this.maxTs,
      queued: [...this.heap.items],
      open: this.open.slice(this.openHead),
      users: [...this.users],
      counts: { ...this.counts },
    };
  }

  static restore(state: BuilderState, onSample: (s: StreamSample) => void, onLate?: (p: Problem) => void): SampleBuilder {
    const b = new SampleBuilder(state.config, onSample, onLate, state.queued.map((q) => ({ ...q })));
    b.nextSeq = state.nextSeq;
    b.maxTs = state.maxTs;
    Object.assign(b.counts, state.counts);
    for (const [u, list] of state.users) b.users.set(u, list.map((x) => [...x] as Behaviour));
    for (const saved of state.open) {
      const o: Open = { ...saved, hist: saved.hist.map((x) => [...x] as Behaviour), waits: [...saved.waits] };
      b.open.push(o);
      const key = `${o.user}\u0000${o.item}`;
      let list = b.candidates.get(key);
      if (!list) b.candidates.set(key, (list = []));
      list.push(o);
      if (o.tentative) {
        let t = b.tentatives.get(o.user);
        if (!t) b.tentatives.set(o.user, (t = []));
        t.push(o);
      }
      for (const w of o.waits) {
        let list = b.waiters.get(w);
        if (!list) b.waiters.set(w, (list = []));
        list.push(o);
      }
    }
    return b;
  }
}
