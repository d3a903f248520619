/**
 * One event of a stream read the way `data/ingest.ts` reads a row of the events table: the
 * dataset spec's column names, type values, label rule and history types, the same timestamp
 * units and plausible range, the same click texts. An event that ingest would leave out is a
 * `Problem` here (where it came from, the field, the value, why), counted by the caller; on top
 * of ingest's checks, a timestamp too far past the wall clock is refused, since one such event
 * would move the stream's watermark and make every later event late.
 */
import { CLICK_TEXTS, EVENT_TYPES, TIME_MAX, TIME_MIN, UNIT_SECONDS, unitOfMagnitude } from '../data/ingest.js';
import { EventsTableSpec, historyTypes, positiveType, TimeUnit } from '../data/spec.js';

export type EventType = (typeof EVENT_TYPES)[number];

/** An event as the sample builder takes it (ids as text, time in epoch seconds). */
export interface StreamEvent {
  user: string;
  item: string;
  type: EventType;
  ts: number;
  /** An impression's own label (the clicked column or the label rule's column), else null. */
  clicked: boolean | null;
  requestId: string | null;
  /** An event of the positive type: it labels the latest earlier impression it matches. */
  positive: boolean;
  /** Feeds the user's behaviour history (an impression: when own-clicked and no positive matched it). */
  inHistory: boolean;
}

export interface Problem {
  /** Where the event came from: "file:line", or the stream and entry id. */
  at: string;
  field?: string;
  value?: string;
  message: string;
}

/** ingest.ts's `text()`: trimmed text, null when empty; lists joined by '|'. */
function text(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  const s = Array.isArray(v) ? v.map(String).join('|') : typeof v === 'object' ? JSON.stringify(v) : String(v);
  const t = s.replace(/^ +| +$/g, '');
  return t === '' ? null : t;
}

const CONTROL = /[\u0000-\u001f\u007f]/;
const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
/** A timestamp text without an offset is UTC, as DuckDB reads it. */
const NO_OFFSET = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$/;

export interface EventReaderOptions {
  /** Now, epoch seconds (tests fix it). */
  now?: () => number;
  /** Timestamps more than this many seconds past now are refused. */
  maxFutureSeconds: number;
  /** The unit an earlier run of the same stream chose (from its checkpoint). */
  unit?: Exclude<TimeUnit, 'auto'> | null;
}

/**
 * Reads raw event objects by the spec's events table. A spec whose `timeUnit` is 'auto' takes the
 * unit of the first numeric timestamp (ingest takes the median's; `unit` says which was chosen).
 */
export class EventReader {
  private unitChosen: Exclude<TimeUnit, 'auto'> | null;
  private readonly positive: string;
  private readonly history: Set<string>;
  private readonly types: Map<string, EventType>;
  private readonly now: () => number;

  constructor(
    private readonly spec: EventsTableSpec,
    private readonly options: EventReaderOptions,
  ) {
    this.unitChosen = spec.timeUnit === 'auto' ? (options.unit ?? null) : spec.timeUnit;
    this.positive = positiveType(spec);
    this.history = new Set(historyTypes(spec));
    this.types = new Map<string, EventType>(EVENT_TYPES.map((t) => [t, t]));
    // The spec's mapping wins over a canonical name, as in ingest's CASE.
    for (const [from, to] of Object.entries(spec.typeValues)) this.types.set(from.toLowerCase(), to);
    this.now = options.now ?? (() => Date.now() / 1000);
  }

  get unit(): Exclude<TimeUnit, 'auto'> | null {
    return this.unitChosen;
  }

  read(raw: unknown, at: string): StreamEvent | Problem {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { at, message: 'is not a JSON object' };
    const row = raw as Record<string, unknown>;
    const c = this.spec.columns;
    const bad = (field: string, value: string | null, message: string): Problem => ({ at, field, ...(value === null ? {} : { value }), message });
    const user = text(row[c.user_id]);
    if (user === null) return bad(c.user_id, null, 'is empty: every event needs a user id');
    if (CONTROL.test(user)) return bad(c.user_id, JSON.stringify(user), 'holds control characters: not a usable user id');
    const item = text(row[c.item_id]);
    if (item === null) return bad(c.item_id, null, 'is empty: every event needs an item id');
    if (CONTROL.test(item)) return bad(c.item_id, JSON.stringify(item), 'holds control characters: not a usable item id');
    const tsRaw = text(row[c.ts]);
    const ts = tsRaw === null ? null : this.seconds(tsRaw);
    if (ts === null) return bad(c.ts, tsRaw, `is not a number (epoch ${this.unitChosen ?? 's'}) or a timestamp`);
    if (ts < TIME_MIN || ts >= TIME_MAX) return bad(c.ts, tsRaw, 'is outside the plausible range 1970-01-01 .. 2100-01-01');
    if (ts > this.now() + this.options.maxFutureSeconds)
      return bad(c.ts, tsRaw, `is more than ${this.options.maxFutureSeconds} s in the future (stream maxFutureSeconds): it would make every later event late`);
    let type: EventType = this.spec.defaultType;
    if (c.type) {
      const t = text(row[c.type]);
      const mapped = t === null ? undefined : this.types.get(t.toLowerCase());
      if (!mapped) return bad(c.type, t, `is not an event type: expected ${EVENT_TYPES.join(', ')} (or map the stream's values with typeValues)`);
      type = mapped;
    }
    const own = this.ownLabel(row);
    if (typeof own === 'object' && own !== null) return { at, ...own };
    const positive = type === this.positive;
    return {
      user,
      item,
      type,
      ts,
      clicked: own,
      requestId: text(row[c.request_id ?? '']) ?? null,
      positive,
      inHistory: type === 'impression' ? this.history.has(this.positive) : this.history.has(type),
    };
  }

  private seconds(t: string): number | null {
    if (NUMERIC.test(t)) {
      const n = Number(t);
      this.unitChosen ??= unitOfMagnitude(Math.abs(n));
      const s = n / UNIT_SECONDS[this.unitChosen];
      return Number.isFinite(s) ? s : null;
    }
    const ms = Date.parse(NO_OFFSET.test(t) ? `${t.replace(' ', 'T')}Z` : t);
    return Number.isFinite(ms) ? ms / 1000 : null;
  }

  /** The event's own label, as ingest's `ownLabel` reads it; a Problem when it cannot be read. */
  private ownLabel(row: Record<string, unknown>): boolean | null | Omit<Problem, 'at'> {
    const rule = this.spec.label;
    if (rule && 'atLeast' in rule) {
      const raw = text(row[rule.column]);
      if (raw === null) return null;
      if (!NUMERIC.test(raw)) return { field: rule.column, value: raw, message: `is not a number: the label rule reads ${rule.column} >= ${rule.atLeast}` };
      return Number(raw) >= rule.atLeast;
    }
    if (rule && 'values' in rule) {
      const raw = text(row[rule.column]);
      return raw === null ? null : rule.values.includes(raw);
    }
    const column = this.spec.columns.clicked;
    if (!column) return null;
    const raw = text(row[column])?.toLowerCase() ?? null;
    if (raw === null) return null;
    if ((CLICK_TEXTS.yes as readonly string[]).includes(raw)) return true;
    if ((CLICK_TEXTS.no as readonly string[]).includes(raw)) return false;
    return { field: column, value: raw, message: 'is not a click label: expected 0/1 or true/false' };
  }
}

export function isProblem(x: StreamEvent | Problem): x is Problem {
  return 'message' in x;
}
