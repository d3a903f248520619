/**
 * The frozen image features SCL's image tower reads: the configured backbone (`model.backbone`:
 * MobileNetV2 by default, or the user's ONNX model), joined with the colour
 * histogram when `model.colourHistogram` > 0. For a catalogue, through encoders' on-disk cache
 * (each backbone cached on its own, so turning the histogram on recomputes nothing of the backbone);
 * for items encoded as they arrive (the service), the same backbones joined the same way.
 *
 * With `model.trainableLayers` > 0 the backbone is MobileNetV2 cut below those layers: the
 * features are their 7 x 7 input activations (cached under the cut's own backbone id, so an epoch
 * never re-runs the frozen layers), and `sclImageHead` gives the pretrained top that the image
 * tower trains on them.
 */
import { ColourHistogramBackbone, JoinedBackbone, joinFeatureTables } from '../encoders/colour.js';
import type { FeatureTable, ImageBackbone, ItemContent } from '../encoders/types.js';
import { loadImageBackbone } from '../encoders/backbone.js';
import { imageFeatures } from '../encoders/index.js';
import { mobilenetTop } from '../encoders/mobilenet-onnx.js';
import type { PointwiseHeadArgs } from '../nn/pointwise.js';
import type { SclConfig } from './config.js';

type Progress = (done: number, total: number) => void;

/** A feature table with the backbone top its rows enter, when they are cut below it. */
export interface SclFeatureTable extends FeatureTable {
  head: PointwiseHeadArgs | null;
}

/** The pretrained top layers the image tower trains (model.trainableLayers of MobileNetV2), or null when the backbone is frozen. */
export async function sclImageHead(model: SclConfig['model']): Promise<PointwiseHeadArgs | null> {
  if (model.trainableLayers === 0) return null;
  const top = await mobilenetTop(model.trainableLayers);
  return { positions: top.positions, channels: top.channels, layers: top.layers };
}

export async function sclImageFeatures(model: SclConfig['model'], items: readonly ItemContent[], cacheDir: string, onProgress?: Progress): Promise<SclFeatureTable> {
  const head = await sclImageHead(model);
  const backbone = await loadImageBackbone(model.backbone, { top: model.trainableLayers });
  let mobile: FeatureTable;
  try {
    mobile = await imageFeatures(backbone, items, cacheDir, onProgress);
  } finally {
    await backbone.close?.();
  }
  if (!(model.colourHistogram > 0)) return { ...mobile, head };
  const colour = await imageFeatures(new ColourHistogramBackbone(), items, cacheDir, onProgress);
  const joined = joinFeatureTables([
    { table: mobile, weight: 1 },
    { table: colour, weight: model.colourHistogram },
  ]);
  return { ...joined, head };
}

export async function sclImageBackbone(model: SclConfig['model'], { workers = 1 }: { workers?: number } = {}): Promise<ImageBackbone> {
  const mobile = await loadImageBackbone(model.backbone, { threads: workers, top: model.trainableLayers });
  if (!(model.colourHistogram > 0)) return mobile;
  return new JoinedBackbone([
    { backbone: mobile, weight: 1 },
    { backbone: new ColourHistogramBackbone(), weight: model.colourHistogram },
  ]);
}
