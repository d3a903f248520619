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
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
import { Catalog, ITEM_FIELDS, ItemField, SampleStore, Sampling, SPLIT_COLUMNS, splitDir, splitFile, SplitMeta, StoreMeta, storeFile, type UserFields } from './store.js';
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

/** Categorical values as indices in order of first appearance: index[0] is padding, a missing value is 0. */
function categorical(values: readonly unknown[]): { vocab: string[]; index: number[] } {
  const vocab: string[] = [], index = [0];
  const seen = new Map<string, number>();
  for (const v of values) {
    if (v === null || v === undefined) {
      index.push(0);
      continue;
    }
    let k = seen.get(String(v));
    if (k === undefined) {
      k = vocab.push(String(v));
      seen.set(String(v), k);
    }
    index.push(k);
  }
  return { vocab, index };
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
  const itemRows = await duck.all(`SELECT * FROM item_index ORDER BY idx`);
  const fieldNames: [ItemField, string][] = [...ITEM_FIELDS.map((f): [string, string] => [f, f]), ...attributes.map((a): [string, string] => [a, `attr_${a}`])];
  const catalog: Catalog = {
    ids: itemRows.map((r) => String(r.item_id)),
    titles: itemRows.map((r) => (r.title === null ? null : String(r.title))),
    images: itemRows.map((r) => (r.image === null ? null : String(r.image))),
    fields: Object.fromEntries(fieldNames.map(([f, columnName]) => [f, categorical(itemRows.map((r) => r[columnName]))])),
  };
  await duck.run(`CREATE OR REPLACE TABLE user_index AS SELECT user_id, (row_number() OVER (ORDER BY min(seq)))::INTEGER AS idx FROM events GROUP BY user_id`);
  const users = (await duck.all(`SELECT user_id FROM user_index ORDER BY idx`)).map((r) => String(r.user_id));
  // User fields: the users table's attr_<name> columns (ingest.ts), joined on user id; a user without a row is 'missing' (index 0).
  const userAttributes = (await duck.all(`SELECT column_name FROM (DESCRIBE user_attrs)`)).map((r) => String(r.column_name)).filter((c) => c.startsWith('attr_'));
  const userRows = userAttributes.length ? await duck.all(`SELECT u.idx, ${userAttributes.map((c) => `a.${sqlIdent(c)}`).join(', ')} FROM user_index u LEFT JOIN user_attrs a ON a.user_id = u.user_id ORDER BY u.idx`) : [];
  const userFields: UserFields = Object.fromEntries(userAttributes.map((c) => [c.slice('attr_'.length), categorical(userRows.map((r) => r[c]))]));

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
  const negatives = sampled ? await negativeSampler(duck, sampled, catalog.ids.length) : null;

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
  const meta: Record<SplitName, SplitMeta & { userSet: Set<number> }> = Object.fromEntries(
    SPLITS.map((s) => [s, { count: 0, clicks: 0, users: 0, tsMin: null, tsMax: null, userSet: new Set<number>() }]),
  ) as never;

  const histories = new Map<number, { ring: Int32Array; n: number }>();
  const snapshot = new Int32Array(L);
  const trainFreq = new Int32Array(catalog.ids.length + 1);
  let impIndex = 0;
  const pendingClicks: [number, number][] = [];
  let groupTs = Number.NaN;

  const addClick = (user: number, item: number) => {
    let h = histories.get(user);
    if (!h) histories.set(user, (h = { ring: new Int32Array(L), n: 0 }));
    h.ring[h.n % L] = item;
    h.n++;
  };
  /** A sample (an impression, or a positive and then its sampled negatives): split, history, columns. */
  const emit = (user: number, item: number, label: number, ts: number, pTrue: number | null) => {
    const name: SplitName =
      split.kind === 'fraction'
        ? impIndex < trainCount ? 'train' : impIndex < trainCount + validCount ? 'valid' : 'test'
        : ts < split.validStart ? 'train' : ts < split.testStart ? 'valid' : 'test';
    impIndex++;
    const h = histories.get(user);
    snapshot.fill(0);
    const len = h ? Math.min(h.n, L) : 0;
    // Most recent last: oldest kept click first.
    for (let k = 0; k < len; k++) snapshot[k] = h!.ring[(h!.n - len + k) % L];
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
    m.userSet.add(user);
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

  // Frequencies are known only after the training window has been read: second, small pass.
  for (const s of SPLITS) {
    const items = new ColumnReader(splitFile(tmpDir, s, 'item'), SPLIT_COLUMNS.item.type);
    const all = items.readAll() as Int32Array;
    items.close();
    const freq = new Int32Array(all.length), fresh = new Uint8Array(all.length);
    for (let i = 0; i < all.length; i++) {
      freq[i] = trainFreq[all[i]];
      fresh[i] = freq[i] === 0 ? 1 : 0;
    }
    writeFileSync(splitFile(tmpDir, s, 'freq'), freq);
    writeFileSync(splitFile(tmpDir, s, 'isNew'), fresh);
  }

  const storeMeta: StoreMeta = {
    version: 1,
    dataset: datasetName,
    config,
    items: catalog.ids.length,
    users: users.length,
    splits: Object.fromEntries(SPLITS.map((s) => {
      const { userSet, ...m } = meta[s];
      return [s, { ...m, users: userSet.size }];
    })) as Record<SplitName, SplitMeta>,
    trainEnd: meta.train.tsMax,
    truth: hasTruth,
    sampling: sampled ? { ...sampled, positives: starts, short: negatives!.short } : plan,
    builtAt: new Date().toISOString(),
  };
  writeFileSync(storeFile(tmpDir, 'catalog'), JSON.stringify(catalog));
  writeFileSync(storeFile(tmpDir, 'users'), JSON.stringify(users));
  writeFileSync(storeFile(tmpDir, 'userFields'), JSON.stringify(userFields));
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
