/** The FeatureSpace of a sample store: vocabulary sizes, item fields from its catalogue, user fields from its users table. */
import type { SampleStore } from '../data/store.js';
import type { FeatureSpace } from './parts/id-features.js';

export function featureSpaceOf(store: SampleStore): FeatureSpace {
  const { meta, catalog } = store;
  const itemFields: FeatureSpace['itemFields'] = {};
  // Every categorical field the catalogue has (category, brand, shop, listed attributes).
  for (const [f, field] of Object.entries(catalog.fields)) {
    if (field.vocab.length > 0) itemFields[f] = { vocab: field.vocab.length, ofItem: Int32Array.from(field.index) };
  }
  const userFields: FeatureSpace['userFields'] = {};
  for (const [f, field] of Object.entries(store.userFields)) userFields[f] = { vocab: field.vocab.length, ofUser: Int32Array.from(field.index) };
  return { items: meta.items, users: meta.users, itemFields, userFields, historyLength: meta.config.historyLength, trainingCounts: () => store.trainingCounts() };
}
