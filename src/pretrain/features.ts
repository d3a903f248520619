/**
 * The frozen image features SCL's image tower reads: the configured backbone (`model.backbone`:
 * MobileNetV2 by default, or the user's ONNX model), joined with the colour
 * histogram when `model.colourHistogram` > 0. For a catalogue, through encoders' on-disk cache
 * (each backbone cached on its own, so turning the histogram on recomputes nothing of the backbone);
 * for items encoded as they arrive (the service), the same backbones joined the same way.
 */
import { ColourHistogramBackbone, JoinedBackbone, joinFeatureTables } from '../encoders/colour.js';
import type { FeatureTable, ImageBackbone, ItemContent } from '../encoders/types.js';
import { loadImageBackbone } from '../encoders/backbone.js';
import { imageFeatures } from '../encoders/index.js';
import type { SclConfig } from './config.js';

type Progress = (done: number, total: number) => void;

export async function sclImageFeatures(model: SclConfig['model'], items: readonly ItemContent[], cacheDir: string, onProgress?: Progress): Promise<FeatureTable> {
  const backbone = await loadImageBackbone(model.backbone);
  let mobile: FeatureTable;
  try {
    mobile = await imageFeatures(backbone, items, cacheDir, onProgress);
  } finally {
    await backbone.close?.();
  }
  if (!(model.colourHistogram > 0)) return mobile;
  const colour = await imageFeatures(new ColourHistogramBackbone(), items, cacheDir, onProgress);
  return joinFeatureTables([
    { table: mobile, weight: 1 },
    { table: colour, weight: model.colourHistogram },
  ]);
}

export async function sclImageBackbone(model: SclConfig['model'], { workers = 1 }: { workers?: number } = {}): Promise<ImageBackbone> {
  const mobile = await loadImageBackbone(model.backbone, { threads: workers });
  if (!(model.colourHistogram > 0)) return mobile;
  return new JoinedBackbone([
    { backbone: mobile, weight: 1 },
    { backbone: new ColourHistogramBackbone(), weight: model.colourHistogram },
  ]);
}
