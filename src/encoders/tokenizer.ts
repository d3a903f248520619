/**
 * The text side: titles and queries as bags of hashed tokens, fastText style and language
 * agnostic, so that no vocabulary file is needed and unseen words still share sub-word rows.
 *
 *   text -> NFKC, lowercase -> words = maximal runs of Unicode letters, digits and marks
 *   tokens = word unigrams, then word n-grams up to `wordNgrams` (bigrams by default), then the
 *            character n-grams (`minn`..`maxn` code points) of each "<word>" (boundary markers
 *            < and >; the whole "<word>" is left out, the unigram already stands for it), all
 *            words' 3-grams first, then their 4-grams, ..., so truncation drops long grams first
 *   id     = 1 + FNV-1a-32(kind prefix + token, UTF-8 bytes) mod buckets  (0 is padding)
 *
 * Kinds are hashed apart ("w\x01", "n\x01", "c\x01" prefixes), so the word "abc" and the character
 * trigram "abc" do not collide by construction. Duplicates are kept (a bag, as fastText's).
 * Deterministic across runs and platforms. An empty or null text gives zero tokens, which the
 * model reads as "no title".
 */
import { EncoderError, FeatureFileError } from './errors.js';
import { forEachLine } from './read-lines.js';

export interface TokenizerArgs {
  /** Hash buckets; ids are in [1, buckets]. Default 2^18. */
  buckets?: number;
  /** Longest word n-gram (1 = unigrams only). Default 2. */
  wordNgrams?: number;
  /** Character n-gram lengths, in code points; minn = 0 turns them off. Defaults 3 and 5. */
  minn?: number;
  maxn?: number;
}

export const DEFAULT_BUCKETS = 1 << 18;

interface Resolved {
  buckets: number;
  wordNgrams: number;
  minn: number;
  maxn: number;
}

function resolve(args: TokenizerArgs = {}): Resolved {
  const r = { buckets: args.buckets ?? DEFAULT_BUCKETS, wordNgrams: args.wordNgrams ?? 2, minn: args.minn ?? 3, maxn: args.maxn ?? 5 };
  if (!Number.isInteger(r.buckets) || r.buckets < 1 || r.buckets > 0x7fffffff) throw new EncoderError(`tokenizer: buckets must be an integer in [1, 2^31), got ${r.buckets}`);
  if (!Number.isInteger(r.wordNgrams) || r.wordNgrams < 1) throw new EncoderError(`tokenizer: wordNgrams must be an integer >= 1, got ${r.wordNgrams}`);
  if (!Number.isInteger(r.minn) || !Number.isInteger(r.maxn) || r.minn < 0 || (r.minn > 0 && r.maxn < r.minn))
    throw new EncoderError(`tokenizer: need 0 <= minn <= maxn (minn = 0 turns character n-grams off), got ${r.minn}..${r.maxn}`);
  return r;
}

const encoder = new TextEncoder();

/** FNV-1a, 32 bit, over the UTF-8 bytes of `s`. */
export function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  const bytes = encoder.encode(s);
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function bucket(kind: string, token: string, buckets: number): number {
  return 1 + (fnv1a(kind + '\x01' + token) % buckets);
}

const WORD = /[\p{L}\p{N}\p{M}]+/gu;

/** The words of a text: NFKC, lowercased, maximal runs of letters, digits and marks. */
export function words(text: string | null | undefined): string[] {
  if (!text) return [];
  return text.normalize('NFKC').toLowerCase().match(WORD) ?? [];
}

/** The hashed id of one word (its unigram token), as `tokenize` gives it. */
export function wordId(word: string, args?: TokenizerArgs): number {
  return bucket('w', word, resolve(args).buckets);
}

/** The token strings (kind-prefixed) in tokenize's order; for tests and debugging. */
export function tokenStrings(text: string | null | undefined, args?: TokenizerArgs): string[] {
  const r = resolve(args);
  const ws = words(text);
  const out: string[] = [];
  for (const w of ws) out.push(`w\x01${w}`);
  for (let n = 2; n <= r.wordNgrams; n++) for (let i = 0; i + n <= ws.length; i++) out.push(`n\x01${ws.slice(i, i + n).join(' ')}`);
  if (r.minn > 0) {
    // Shortest n first across all words, so that truncation drops long grams, not whole words.
    const cps = ws.map((w) => Array.from(`<${w}>`));
    for (let n = r.minn; n <= r.maxn; n++)
      for (const c of cps)
        for (let i = 0; i + n <= c.length; i++) {
          if (n === c.length) continue; // the whole "<word>": the unigram stands for it
          out.push(`c\x01${c.slice(i, i + n).join('')}`);
        }
  }
  return out;
}

/** Hashed token ids of one text, in [1, buckets]; empty for an empty or null text. */
export function tokenize(text: string | null | undefined, args?: TokenizerArgs): Int32Array {
  const r = resolve(args);
  const toks = tokenStrings(text, r);
  const ids = new Int32Array(toks.length);
  for (let i = 0; i < toks.length; i++) ids[i] = 1 + (fnv1a(toks[i]) % r.buckets);
  return ids;
}

export interface TokenBatch {
  /** [texts.length, maxTokens], row-major, padded with 0. */
  ids: Int32Array;
  /** Tokens kept per text (after truncation to maxTokens). */
  lengths: Int32Array;
  maxTokens: number;
}

/**
 * Tokenizes a batch into a padded matrix. A text with more than maxTokens tokens keeps the first
 * maxTokens: unigrams come first, then word n-grams, then character n-grams shortest first.
 * With the defaults, fashion titles (6-10 words) have 85 tokens at the median, 143 at p99: use
 * maxTokens 128-160, or maxn 3 (p99 69 tokens) for short sequences.
 */
export function tokenizeBatch(texts: readonly (string | null | undefined)[], maxTokens: number, args?: TokenizerArgs): TokenBatch {
  if (!Number.isInteger(maxTokens) || maxTokens < 1) throw new EncoderError(`tokenizeBatch: maxTokens must be a positive integer, got ${maxTokens}`);
  const r = resolve(args);
  const ids = new Int32Array(texts.length * maxTokens);
  const lengths = new Int32Array(texts.length);
  texts.forEach((t, i) => {
    const tok = tokenize(t, r);
    const n = Math.min(tok.length, maxTokens);
    ids.set(tok.subarray(0, n), i * maxTokens);
    lengths[i] = n;
  });
  return { ids, lengths, maxTokens };
}

// ---------------------------------------------------------------------------------------------
// Pretrained word vectors

export interface WordVectorInit {
  dim: number;
  /** Distinct hashed word ids that received a vector (ascending). */
  ids: Int32Array;
  /** [ids.length, dim]: the mean of the vectors of the words hashing to each id. */
  vectors: Float32Array;
  /** Words read, words used, words skipped (not a single word after normalisation), ids shared by 2+ words. */
  stats: { read: number; used: number; skipped: number; collisions: number };
}

/**
 * Reads a fastText .vec file (text: a "count dim" header line, then "word v1 .. vdim" per line)
 * and returns initial rows for the hashed word-unigram ids, for the title embedding table.
 * Words are normalised as `tokenize` does (NFKC, lowercase); entries that are not one word after
 * that (phrases, punctuation) are skipped and counted; words that meet in one bucket (case
 * variants, hash collisions) are averaged. Bad dimensions or non-numbers fail with file and line.
 */
export function loadWordVectors(file: string, args?: TokenizerArgs & { maxWords?: number }): WordVectorInit {
  const r = resolve(args);
  const sums = new Map<number, { v: Float64Array; n: number }>();
  const stats = { read: 0, used: 0, skipped: 0, collisions: 0 };
  const maxWords = args?.maxWords ?? Infinity;
  let dim = 0;
  forEachLine(file, (raw, lineNo) => {
    if (lineNo === 1) {
      const head = raw.trim().split(/\s+/);
      dim = Number(head[1]);
      if (head.length !== 2 || !Number.isInteger(Number(head[0])) || !Number.isInteger(dim) || dim < 1)
        throw new FeatureFileError(file, 1, `expected a fastText .vec header "count dim", got "${raw.slice(0, 80)}"`);
      return true;
    }
    if (stats.read >= maxWords) return false;
    const line = raw.trimEnd();
    if (!line) return true;
    const parts = line.split(' ');
    if (parts.length !== dim + 1) throw new FeatureFileError(file, lineNo, `expected a word and ${dim} numbers, got ${parts.length - 1} numbers`);
    stats.read++;
    const ws = words(parts[0]);
    if (ws.length !== 1 || ws[0] !== parts[0].normalize('NFKC').toLowerCase()) {
      stats.skipped++;
      return true;
    }
    const v = new Float64Array(dim);
    for (let d = 0; d < dim; d++) {
      const x = Number(parts[d + 1]);
      if (!Number.isFinite(x)) throw new FeatureFileError(file, lineNo, `value ${d + 1} of "${parts[0]}" is not a finite number: "${parts[d + 1]}"`);
      v[d] = x;
    }
    const id = bucket('w', ws[0], r.buckets);
    const acc = sums.get(id);
    if (acc) {
      if (acc.n === 1) stats.collisions++;
      for (let d = 0; d < dim; d++) acc.v[d] += v[d];
      acc.n++;
    } else sums.set(id, { v, n: 1 });
    stats.used++;
    return true;
  });
  if (dim === 0) throw new FeatureFileError(file, 1, 'empty file: expected a fastText .vec header "count dim"');
  const ids = Int32Array.from([...sums.keys()].sort((a, b) => a - b));
  const vectors = new Float32Array(ids.length * dim);
  ids.forEach((id, i) => {
    const { v, n } = sums.get(id)!;
    for (let d = 0; d < dim; d++) vectors[i * dim + d] = v[d] / n;
  });
  return { dim, ids, vectors, stats };
}
