/**
 * Sample building: one sample per impression, label = click, history = the user's clicked items
 * strictly before the impression (ties per config), the last L of them, most recent last. Labels
 * and what counts as a click are labels.ts's rules. One pass over the events in (time, file
 * order) with a ring buffer per user; samples go to column files per split, so nothing of size
 * "all samples" is held in memory. In a log without impressions, each positive is a sample followed
 * by its sampled negatives (negativeSampler, config `negatives`), the group kept in one split.
 * Fraction splits cut impressions (or positives) in that order at
 * floor(n * train) and floor(n * (train + valid)); time splits at validStart and testStart.
 *
 * The folder's layout and file names are store.ts's (STORE_FILES, SPLIT_COLUMNS, TRUTH_FILE); this
 * file writes them. p_true (the answer key, when the events carry one) goes to its own file per
 * split, which batches never read.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { writeTextAtomic } from '../util/atomic-write.js';
import { ColumnReader, ColumnWriter } from './column-file.js';
import { Duck, sqlIdent } from './duck.js';
import { DataError } from './errors.js';
import { ingest, IngestReport } from './ingest.js';
import { labelEvents } from './labels.js';
import { SampleConfig, SplitName, SPLITS } from './sample-config.js';
import { readDatasetSpec } from './spec.js';
import type { StoredField } from './batches.js';
import { fieldFiles, ITEM_FIELDS, ItemField, SampleStore, Sampling, SPLIT_COLUMNS, splitDir, splitFile, SplitMeta, STORE_VERSION, StoreMeta, storeFile, tableFile } from './store.js';
import { StringTableWriter } from './string-table.js';
import { RandomStream } from '../engine/random.js';

/**
 * What `data build` makes of the canonical tables (after `ingest`): one sample per impression, or,
 * in a log with positives and no impressions, each positive with sampled negatives; `none` with
 * the reason when there is nothing to build from. `data check` states it before a build.
 */
export async function samplePlan(duck: Duck, config: SampleConfig): Promise<Sampling | { kind: 'none'; reason: string }> {
  const impressions = Number(await duck.scalar(`SELECT count(*)::INTEGER FROM events WHERE type = 'impression'`));
  if (impressions > 0) return { kind: 'impressions' };
  const positives = await duck.all(`SELECT type, count(*)::INTEGER AS n FROM events WHERE positive GROUP BY type`);
  if (positives.length === 0) return { kind: 'none', reason: 'has no impressions and no positive events: there is nothing to build samples from (see `mmctr data check`)' };
  return { kind: 'negatives', positiveType: String(positives[0].type), ...config.negatives };
}

/** The columns written while the events stream by; freq and isNew follow once the training window is known. */
const STREAMED = ['user', 'item', 'label', 'ts', 'histLen', 'hist'] as const satisfies readonly StoredField[];

/**
 * A categorical field written as its values stream by, in index order: values as indices in
 * order of first appearance (index 0 of the file is padding, a missing value is 0) and the
 * vocabulary as a string table.
 */
class CategoricalWriter {
  private readonly seen = new Map<string, number>();
  private readonly index: ColumnWriter;
  private readonly vocab: StringTableWriter;

  constructor(files: { index: string; vocab: string }) {
    this.index = new ColumnWriter(files.index, 'i32');
    this.index.push(0);
    this.vocab = new StringTableWriter(files.vocab);
  }

  push(v: unknown): void {
    if (v === null || v === undefined) return this.index.push(0);
    const text = String(v);
    let k = this.seen.get(text);
    if (k === undefined) {
      this.vocab.push(text);
      k = this.vocab.count;
      this.seen.set(text, k);
    }
    this.index.push(k);
  }

  close(): void {
    this.index.close();
    this.vocab.close();
  }
}

/** Streams `sql` (rows in index order) into an id table and one CategoricalWriter per further column; returns the id count. */
async function writeIdsAndFields(duck: Duck, sql: string, ids: StringTableWriter, fields: CategoricalWriter[], texts: StringTableWriter[] = []): Promise<number> {
  for await (const chunk of duck.chunks(sql)) {
    const [idColumn, ...rest] = chunk.columns;
    const textColumns = rest.slice(0, texts.length), fieldColumns = rest.slice(texts.length);
    for (let r = 0; r < chunk.rows; r++) {
      ids.push(String(idColumn[r]));
      texts.forEach((t, k) => t.push(textColumns[k][r] === null ? null : String(textColumns[k][r])));
      fields.forEach((f, k) => f.push(fieldColumns[k][r]));
    }
  }
  for (const w of [ids, ...texts, ...fields]) w.close();
  return ids.count;
}

/** `dir` may be (re)written: it is absent, an empty folder, or an earlier sample store. */
function checkStoreDir(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new DataError({ file: dir }, 'exists and is not a folder: choose another --out for the sample store');
  const entries = readdirSync(dir);
  if (entries.length > 0 && !SampleStore.isStore(dir))
    throw new DataError({ file: dir }, 'is a folder that is not empty and not a sample store: it is left alone; choose an empty or new folder');
}

/**
 * Builds the sample store in `dir` from the canonical tables in `duck` (after `ingest`). The
 * store appears whole or not at all; an existing store in `dir` is replaced.
 */
export async function buildSamples(duck: Duck, datasetName: string, config: SampleConfig, outDir: string, onProgress?: (done: number, total: number) => void): Promise<StoreMeta> {
  const L = config.historyLength;
  const dir = path.resolve(outDir);
  checkStoreDir(dir);
  const tmpDir = path.join(path.dirname(dir), `.${path.basename(dir)}.building-${process.pid}`);
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(tmpDir, { recursive: true });
  try {
    const meta = await writeStore(duck, datasetName, config, L, tmpDir, onProgress);
    // Replace an earlier store only once the new one is complete.
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmpDir, dir);
    return meta;
  } catch (err) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw err;
  }
}

/** Ingests a dataset spec and builds its sample store in `storeDir`; returns the store, opened. */
export async function buildStoreFromSpec(specFile: string, samples: SampleConfig, storeDir: string, onProgress?: (done: number, total: number) => void): Promise<{ store: SampleStore; report: IngestReport }> {
  const spec = readDatasetSpec(specFile);
  const duck = await Duck.open();
  try {
    const report = await ingest(duck, spec);
    await buildSamples(duck, spec.name, samples, storeDir, onProgress);
    return { store: SampleStore.open(storeDir), report };
  } finally {
    duck.close();
  }
}

async function writeStore(duck: Duck, datasetName: string, config: SampleConfig, L: number, tmpDir: string, onProgress?: (done: number, total: number) => void): Promise<StoreMeta> {
  // Catalogue: items in catalogue order (ingest's seq); attributes as indices in order of first appearance.
  // Listed attributes are the items table's attr_<name> columns (ingest.ts).
  const itemColumns = (await duck.all(`SELECT column_name FROM (DESCRIBE items)`)).map((r) => String(r.column_name));
  const attributes = itemColumns.filter((c) => c.startsWith('attr_')).map((c) => c.slice('attr_'.length));
  const attrSelect = attributes.map((a) => `, ${sqlIdent(`attr_${a}`)}`).join('');
  await duck.run(`CREATE OR REPLACE TABLE item_index AS SELECT item_id, (row_number() OVER (ORDER BY seq))::INTEGER AS idx, title, image, category, brand, shop${attrSelect} FROM items`);
  const itemFields: ItemField[] = [...ITEM_FIELDS, ...attributes];
  const itemColumnsOf = [...ITEM_FIELDS, ...attributes.map((a) => sqlIdent(`attr_${a}`))];
  mkdirSync(storeFile(tmpDir, 'catalog'));
  const itemCount = await writeIdsAndFields(
    duck,
    `SELECT item_id, title, image, ${itemColumnsOf.join(', ')} FROM item_index ORDER BY idx`,
    new StringTableWriter(tableFile(tmpDir, 'catalog', 'ids'), { index: true }),
    itemFields.map((_, k) => new CategoricalWriter(fieldFiles(tmpDir, 'catalog', k))),
    [new StringTableWriter(tableFile(tmpDir, 'catalog', 'titles'), { nullable: true }), new StringTableWriter(tableFile(tmpDir, 'catalog', 'images'), { nullable: true })],
  );
  await duck.run(`CREATE OR REPLACE TABLE user_index AS SELECT user_id, (row_number() OVER (ORDER BY min(seq)))::INTEGER AS idx FROM events GROUP BY user_id`);
  // User fields: the users table's attr_<name> columns (ingest.ts), joined on user id; a user without a row is 'missing' (index 0).
  const userAttributes = (await duck.all(`SELECT column_name FROM (DESCRIBE user_attrs)`)).map((r) => String(r.column_name)).filter((c) => c.startsWith('attr_'));
  const userFields = userAttributes.map((c) => c.slice('attr_'.length));
  mkdirSync(storeFile(tmpDir, 'users'));
  const userCount = await writeIdsAndFields(
    duck,
    `SELECT u.user_id${userAttributes.map((c) => `, a.${sqlIdent(c)}`).join('')} FROM user_index u LEFT JOIN user_attrs a ON a.user_id = u.user_id ORDER BY u.idx`,
    new StringTableWriter(tableFile(tmpDir, 'users', 'ids'), { index: true }),
    userFields.map((_, k) => new CategoricalWriter(fieldFiles(tmpDir, 'users', k))),
  );

  // Labels and the user's behaviours (labels.ts): impressions (or positives), behaviours in one stream.
  const plan = await samplePlan(duck, config);
  if (plan.kind === 'none') throw new DataError({ file: datasetName }, plan.reason);
  const sampled = plan.kind === 'negatives' ? plan : null;
  await labelEvents(duck, config.clickWindowSeconds);
  // A sample starts at an impression, or at a positive when negatives are sampled.
  await duck.run(`CREATE OR REPLACE TABLE stream AS
    SELECT u.idx AS user, i.idx AS item, e.ts, e.seq, ${sampled ? 'e.is_pos' : 'e.is_imp'} AS is_sample, e.${sampled ? 'is_pos' : 'label'} AS label, e.is_hist, e.p_true
    FROM labelled e JOIN user_index u USING (user_id) JOIN item_index i USING (item_id)`);
  // Samples that start a group (an impression, or a positive and its negatives): the splits cut these.
  const starts = Number(await duck.scalar(`SELECT count(*)::INTEGER FROM stream WHERE is_sample = 1`));
  const hasTruth = Number(await duck.scalar(`SELECT count(*)::INTEGER FROM stream WHERE is_sample = 1 AND p_true IS NOT NULL`)) > 0;
  const streamRows = Number(await duck.scalar(`SELECT count(*)::INTEGER FROM stream`));
  const negatives = sampled ? await negativeSampler(duck, sampled, itemCount) : null;

  const split = config.split;
  // The epsilon keeps 0.29 * 100 at 29, not 28.999...
  const share = (f: number) => Math.floor(starts * f + 1e-9);
  const trainCount = split.kind === 'fraction' ? share(split.train) : 0;
  const validCount = split.kind === 'fraction' ? Math.min(starts - trainCount, share(split.train + split.valid) - trainCount) : 0;

  const writers = Object.fromEntries(
    SPLITS.map((s) => {
      mkdirSync(splitDir(tmpDir, s));
      return [s, Object.fromEntries(STREAMED.map((c) => [c, new ColumnWriter(splitFile(tmpDir, s, c), SPLIT_COLUMNS[c].type, SPLIT_COLUMNS[c].history ? L : 1)]))];
    }),
  ) as Record<SplitName, Record<(typeof STREAMED)[number], ColumnWriter>>;
  // The answer key, in its own file: never part of a batch.
  const truthWriters = hasTruth
    ? (Object.fromEntries(SPLITS.map((s) => [s, new ColumnWriter(splitFile(tmpDir, s, 'truth'), 'f32')])) as Record<SplitName, ColumnWriter>)
    : null;
  // Which users a split has seen: one byte per user, not a Set of them.
  const meta: Record<SplitName, SplitMeta & { seen: Uint8Array }> = Object.fromEntries(
    SPLITS.map((s) => [s, { count: 0, clicks: 0, users: 0, tsMin: null, tsMax: null, seen: new Uint8Array(userCount + 1) }]),
  ) as never;

  // Each user's ring buffer of the last L clicks, as one flat array (row u) and a click count per user.
  const rings = new Int32Array((userCount + 1) * L);
  const clicksOf = new Float64Array(userCount + 1);
  const snapshot = new Int32Array(L);
  const trainFreq = new Int32Array(itemCount + 1);
  let impIndex = 0;
  const pendingClicks: [number, number][] = [];
  let groupTs = Number.NaN;

  const addClick = (user: number, item: number) => {
    rings[user * L + (clicksOf[user] % L)] = item;
    clicksOf[user]++;
  };
  /** A sample (an impression, or a positive and then its sampled negatives): split, history, columns. */
  const emit = (user: number, item: number, label: number, ts: number, pTrue: number | null) => {
    const name: SplitName =
      split.kind === 'fraction'
        ? impIndex < trainCount ? 'train' : impIndex < trainCount + validCount ? 'valid' : 'test'
        : ts < split.validStart ? 'train' : ts < split.testStart ? 'valid' : 'test';
    impIndex++;
    const n = clicksOf[user];
    snapshot.fill(0);
    const len = Math.min(n, L);
    // Most recent last: oldest kept click first.
    for (let k = 0; k < len; k++) snapshot[k] = rings[user * L + ((n - len + k) % L)];
    write(name, user, item, label, ts, len, pTrue);
    if (negatives) for (const negative of negatives.draw(item)) write(name, user, negative, 0, ts, len, null);
  };
  const write = (name: SplitName, user: number, item: number, label: number, ts: number, len: number, pTrue: number | null) => {
    const w = writers[name];
    w.user.push(user);
    w.item.push(item);
    w.label.push(label);
    w.ts.push(ts);
    w.histLen.push(len);
    w.hist.push(snapshot);
    truthWriters?.[name].push(pTrue === null || pTrue === undefined ? Number.NaN : Number(pTrue));
    const m = meta[name];
    m.count++;
    m.clicks += label;
    if (!m.seen[user]) {
      m.seen[user] = 1;
      m.users++;
    }
    m.tsMin = m.tsMin === null ? ts : Math.min(m.tsMin, ts);
    m.tsMax = m.tsMax === null ? ts : Math.max(m.tsMax, ts);
    if (name === 'train') trainFreq[item]++;
  };

  let done = 0;
  for await (const chunk of duck.chunks(`SELECT user, item, ts, is_sample, label, is_hist, p_true FROM stream ORDER BY ts, seq`)) {
    const [us, its, tss, isStart, labels, behaviours, truths] = chunk.columns as number[][];
    for (let r = 0; r < chunk.rows; r++) {
      const ts = tss[r];
      if (config.ties === 'exclude' && ts !== groupTs) {
        // Clicks of a finished timestamp group become visible only to later timestamps.
        for (const [u, i] of pendingClicks) addClick(u, i);
        pendingClicks.length = 0;
        groupTs = ts;
      }
      negatives?.advance(ts);
      if (isStart[r]) emit(us[r], its[r], labels[r], ts, truths[r]);
      if (sampled && isStart[r]) negatives!.positive(its[r]);
      if (behaviours[r]) {
        if (config.ties === 'exclude') pendingClicks.push([us[r], its[r]]);
        else addClick(us[r], its[r]);
      }
    }
    done += chunk.rows;
    onProgress?.(done, streamRows);
  }
  for (const s of SPLITS) for (const w of Object.values(writers[s])) w.close();
  if (truthWriters) for (const s of SPLITS) truthWriters[s].close();

  // Frequencies are known only after the training window has been read: second pass, in blocks.
  for (const s of SPLITS) {
    const items = new ColumnReader(splitFile(tmpDir, s, 'item'), SPLIT_COLUMNS.item.type);
    const freq = new ColumnWriter(splitFile(tmpDir, s, 'freq'), SPLIT_COLUMNS.freq.type);
    const fresh = new ColumnWriter(splitFile(tmpDir, s, 'isNew'), SPLIT_COLUMNS.isNew.type);
    try {
      const block = new Int32Array(Math.min(items.records, 1 << 16));
      for (let start = 0; start < items.records; start += block.length) {
        const n = Math.min(block.length, items.records - start);
        items.read(start, n, block);
        for (let i = 0; i < n; i++) {
          const f = trainFreq[block[i]];
          freq.push(f);
          fresh.push(f === 0 ? 1 : 0);
        }
      }
    } finally {
      items.close();
      freq.close();
      fresh.close();
    }
  }

  const storeMeta: StoreMeta = {
    version: STORE_VERSION,
    dataset: datasetName,
    config,
    items: itemCount,
    users: userCount,
    itemFields,
    userFields,
    splits: Object.fromEntries(SPLITS.map((s) => {
      const { seen, ...m } = meta[s];
      return [s, m];
    })) as Record<SplitName, SplitMeta>,
    trainEnd: meta.train.tsMax,
    truth: hasTruth,
    sampling: sampled ? { ...sampled, positives: starts, short: negatives!.short } : plan,
    builtAt: new Date().toISOString(),
  };
  writeTextAtomic(storeFile(tmpDir, 'meta'), JSON.stringify(storeMeta, null, 2));
  return storeMeta;
}

/**
 * The negatives of a log without impressions (config `negatives`): items become live at their
 * creation time or first event, whichever is earlier (items with neither never are); each
 * positive draws `perPositive` items (with replacement, never its own item) over the live ones,
 * uniformly or in proportion to their positives so far (an earlier positive's item drawn
 * uniformly; uniform while there is none). `short` counts positives that got no negatives
 * because no other item was live.
 */
async function negativeSampler(duck: Duck, sampling: Extract<Sampling, { kind: 'negatives' }>, itemCount: number) {
  const rows = await duck.all(`SELECT i.idx, LEAST(min(e.ts), any_value(it.created_at)) AS live
    FROM item_index i JOIN items it USING (item_id) LEFT JOIN events e USING (item_id)
    GROUP BY i.idx HAVING live IS NOT NULL ORDER BY live, i.idx`);
  const liveOrder = Int32Array.from(rows.map((r) => Number(r.idx)));
  const liveAt = Float64Array.from(rows.map((r) => Number(r.live)));
  const isLive = new Uint8Array(itemCount + 1);
  const live: number[] = [];
  const positives: number[] = [];
  const rng = new RandomStream(sampling.seed).fork('negatives');
  const k = sampling.perPositive;
  let next = 0;
  const sampler = {
    short: 0,
    /** Makes the items live by `ts` drawable. */
    advance(ts: number): void {
      for (; next < liveOrder.length && liveAt[next] <= ts; next++) {
        live.push(liveOrder[next]);
        isLive[liveOrder[next]] = 1;
      }
    },
    /** Counts a positive's item for the popularity weights (after its own negatives were drawn). */
    positive(item: number): void {
      positives.push(item);
    },
    /** The negatives of a positive of `item`. */
    draw(item: number): number[] {
      const out: number[] = [];
      if (live.length - isLive[item] === 0) {
        sampler.short++;
        return out;
      }
      // The positive's own item is drawn again; popularity draws fall back to uniform after many misses.
      for (let round = 0; out.length < k; round++) {
        const pool = sampling.sampler === 'popularity' && positives.length > 0 && round < 16 ? positives : live;
        for (const u of rng.uniform(k - out.length)) {
          const pick = pool[Math.min(pool.length - 1, Math.floor(u * pool.length))];
          if (pick !== item) out.push(pick);
        }
      }
      return out;
    },
  };
  return sampler;
}
