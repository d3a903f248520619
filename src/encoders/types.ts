/**
 * encoders/: frozen content backbones (image CNN, precomputed vectors, an ONNX seam) and the
 * text tokenizer, behind one interface, with an on-disk feature cache keyed by backbone
 * identity. Everything here is inference only; the trainable heads live in pretrain/.
 */

/** What an encoder sees of an item. */
export interface ItemContent {
  id: string;
  title: string | null;
  /** Absolute path of the image file, or null. */
  image: string | null;
}

/** A frozen feature extractor over images (or any per-item content). */
export interface ImageBackbone {
  /** Identity for the cache: name, version, layer, input size; a change invalidates cached features. */
  readonly id: string;
  readonly dim: number;
  /** Features [images.length, dim] (row-major); rows of images that could not be used are listed in `failed` with a reason. */
  encode(images: readonly string[]): Promise<{ features: Float32Array; failed: { index: number; reason: string }[] }>;
  close?(): Promise<void> | void;
}

/** Per-item frozen features, with the items that had none (text-only fallback). */
export interface FeatureTable {
  backbone: string;
  dim: number;
  ids: string[];
  /** [ids.length, dim]; zero rows where missing. */
  features: Float32Array;
  /** 1 where the item has no usable image feature (missing or corrupt file). */
  missing: Uint8Array;
  report: { computed: number; cached: number; missing: number; corrupt: number; problems: { id: string; reason: string }[] };
}
