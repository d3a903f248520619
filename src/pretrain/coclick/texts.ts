/**
 * What the text tower reads of a catalogue item in co-click training: its title + the values of
 * the listed catalogue fields the store has, tokenised into SCL item inputs with no image.
 */
import { tokenizeBatch } from '../../encoders/tokenizer.js';
import type { Catalog } from '../../data/store.js';
import type { ItemInputs } from '../model.js';

export interface ItemTexts {
  /** Catalogue ids, row r = catalogue index r + 1. */
  ids: string[];
  texts: string[];
  /** The catalogue fields that were found and appended. */
  fields: string[];
}

/** Title + the listed catalogue fields' values, per catalogue item (row r = catalogue index r + 1). */
export function itemTexts(catalog: Catalog, fields: readonly string[]): ItemTexts {
  const used = fields.filter((f) => catalog.fields[f] && catalog.fields[f].vocab.length > 0);
  const texts = catalog.ids.map((_, r) => {
    const parts: string[] = [];
    const title = catalog.titles[r];
    if (title) parts.push(title);
    for (const f of used) {
      const v = catalog.fields[f].index[r + 1];
      if (v > 0) parts.push(catalog.fields[f].vocab[v - 1]);
    }
    return parts.join(' ');
  });
  return { ids: catalog.ids, texts, fields: used };
}

/** Text-only model inputs: tokenised texts, a 1-wide zero feature table, every image missing. */
export function textInputs(texts: readonly string[], maxTokens: number): ItemInputs {
  const tok = tokenizeBatch(texts, maxTokens);
  const n = texts.length;
  return { count: n, maxTokens, titleIds: tok.ids, titleLen: tok.lengths, featureDim: 1, features: new Float32Array(n), imageMissing: new Uint8Array(n).fill(1) };
}
