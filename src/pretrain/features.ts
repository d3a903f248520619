/** The frozen image features SCL uses: MobileNetV2 through encoders' on-disk cache. */
import type { FeatureTable, ItemContent } from '../encoders/types.js';
import { imageFeatures, MobileNetV2Backbone } from '../encoders/index.js';

export async function mobileNetFeatures(items: readonly ItemContent[], cacheDir: string, onProgress?: (done: number, total: number) => void): Promise<FeatureTable> {
  const backbone = await MobileNetV2Backbone.load();
  try {
    return await imageFeatures(backbone, items, cacheDir, onProgress);
  } finally {
    await backbone.close?.();
  }
}
