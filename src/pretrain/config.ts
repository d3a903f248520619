/**
 * The SCL pre-training configuration: every hyper-parameter typed, with its default, in one zod
 * schema. Named config files live in configs/ (configs/scl-*.json); a file holds only what it
 * changes, the rest comes from here.
 */
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_BACKBONE, ImageBackboneConfig } from '../encoders/backbone.js';
import { parseConfig, readConfigFile } from '../util/config-file.js';
import { runsDir } from '../util/paths.js';

export const SclModelConfig = z
  .object({
    /** Rows of the hashed n-gram table: ids in [1, 2^18] from encoders' tokenizer, 0 = padding. */
    textBuckets: z.number().int().positive().default(2 ** 18 + 1),
    /** Width of the token embedding bag. */
    tokenDim: z.number().int().positive().default(64),
    /** Tokens kept per title / query. */
    maxTokens: z.number().int().positive().default(32),
    /** Hidden width of both projection MLPs (0: a single linear layer). */
    hidden: z.number().int().nonnegative().default(256),
    /** Output width: the item vector. */
    outDim: z.number().int().positive().default(128),
    /**
     * How the item's text and image sides combine into the fused item vector:
     * 'sum': l2(l2(text) + l2(image)) (no parameters; a missing side is left out);
     * 'linear': l2(W [text; image] + b) with a missing side zeroed.
     */
    fusion: z.enum(['sum', 'linear']).default('sum'),
    /**
     * What a query is matched with: 'fused' (the item vector that is exported) or 'modality'
     * (text queries with the title side, photo queries with the image side, the paper's pairs;
     * an item lacking that side falls back to the other).
     */
    keySide: z.enum(['fused', 'modality']).default('fused'),
    /**
     * Weight of the product's colour histogram (encoders/colour.ts) appended to the frozen
     * backbone features the image tower reads; 0: the backbone alone. MobileNetV2 rows have a
     * mean norm of about 12 and a histogram has norm 1, so 12 weighs the two alike.
     */
    colourHistogram: z.number().min(0).default(0),
    /**
     * The frozen image backbone (encoders/backbone.ts): `{"kind": "mobilenet", "runtime": "auto" |
     * "onnx" | "tfjs"}`, or the user's own `{"kind": "onnx", "path", "inputSize", "mean", "std",
     * "layout", "output", "pooling"}` (docs/encoders.md).
     */
    backbone: ImageBackboneConfig.default(DEFAULT_BACKBONE),
    /**
     * MobileNetV2's top layers trained under the SCL loss, initialised from the pretrained weights
     * (nn/pointwise.ts): 0 = the frozen backbone; 1 = its last pointwise convolution (320 -> 1280)
     * with its batch norm (inference form), ReLU6 and the average pool; 2 adds block 16's linear
     * projection (960 -> 320). The features are then cached at the input of those layers (7 x 7
     * activations), so training never re-runs the frozen ones.
     */
    trainableLayers: z.number().int().min(0).max(2).default(0),
    /** Adam learning rate of those layers (the towers' is train.lr); 1e-4 left them where they were over one epoch (docs/pretrain.md). */
    trainableLr: z.number().positive().default(1e-3),
    /**
     * The last this many epochs (of train.epochs) train those layers with the towers; the epochs
     * before train the towers on the layers' pretrained output, computed once (linear probing, then
     * fine-tuning: the towers are fitted before their gradients reach the pretrained layers, and an
     * epoch through the layers costs about twenty without them).
     */
    trainableEpochs: z.number().int().positive().default(1),
  })
  .strict();

/** The model section with the checks across its fields. */
const SclModelSection = SclModelConfig.superRefine((m, ctx) => {
  if (m.trainableLayers === 0) return;
  if (m.backbone.kind !== 'mobilenet')
    ctx.addIssue({ code: 'custom', path: ['trainableLayers'], message: `only MobileNetV2's top layers can be trained; the backbone is the ONNX model ${m.backbone.path}: set trainableLayers 0` });
  else if (m.backbone.runtime === 'tfjs')
    ctx.addIssue({ code: 'custom', path: ['trainableLayers'], message: 'trainable layers read MobileNetV2\'s 7 x 7 activations from the converted graph, which onnxruntime runs: set backbone.runtime "auto" or "onnx"' });
});

export const SclLossConfig = z
  .object({
    /** InfoNCE temperature. */
    tau: z.number().positive().default(0.07),
    /** Keys in the MoCo queue (0: in-batch negatives only). The paper used 196,800. */
    queueSize: z.number().int().nonnegative().default(65_536),
    /** EMA momentum of the key encoder. */
    momentum: z.number().min(0).max(1).default(0.995),
    /** Weight of the cosine triplet loss on hard negatives (0: off). */
    lambda: z.number().min(0).default(0.5),
    /** Triplet margin in cosine: max(0, margin - cos(q, pos) + cos(q, neg)). */
    margin: z.number().min(0).max(2).default(0.2),
    /** Hard negatives used per pair (clicked, not bought, same search); sampled when more. */
    hardPerPair: z.number().int().positive().default(2),
    /**
     * Drop a sampled hard negative whose cosine to the positive (current item vectors, no
     * gradient) exceeds this: likely a false negative, an item as good a match as the bought
     * one (1: keep all).
     */
    hardMaxCos: z.number().min(-1).max(1).default(1),
    /** 'uniform': every kept triplet counts 1; 'dissimilar': (1 - cos(pos, neg)) / 2. */
    hardWeighting: z.enum(['uniform', 'dissimilar']).default('uniform'),
    /** Zero a batch positive's own earlier keys in the queue (an item is never its own negative). */
    maskQueuePositives: z.boolean().default(true),
  })
  .strict();

/** The optimiser section of a run of the contrastive loop (trainer.ts); SCL and co-click differ in epochs and batch size. */
export function contrastiveTrainConfig(defaults: { epochs: number; batchSize: number }) {
  return z
    .object({
      epochs: z.number().int().positive().default(defaults.epochs),
      batchSize: z.number().int().min(2).default(defaults.batchSize),
      /** Adam learning rate of the dense parts; SparseAdam of the token table. */
      lr: z.number().positive().default(1e-3),
      sparseLr: z.number().positive().default(5e-3),
      weightDecay: z.number().min(0).default(0),
    })
    .strict();
}

export const SclTrainConfig = contrastiveTrainConfig({ epochs: 8, batchSize: 256 });

export const SclDataConfig = z
  .object({
    /** dataset.json of the ad world (or any dataset with items + searches). */
    spec: z.string().optional(),
    /** Share of searches, the latest by time, held out for evaluation (never trained on). */
    heldOutShare: z.number().gt(0).lt(1).default(0.2),
    /** Photo queries whose query item is the bought item itself are dropped (trivial). */
    dropSelfPhoto: z.boolean().default(true),
  })
  .strict();

export const SclEvalConfig = z
  .object({
    /** Candidates per held-out pair: its target (the bought item) + (N - 1) random catalogue items. */
    candidates: z.number().int().min(2).default(100),
    topK: z.number().int().positive().default(10),
    seed: z.number().int().nonnegative().default(7),
  })
  .strict();

export const SclConfig = z
  .object({
    name: z.string().default('scl'),
    seed: z.number().int().nonnegative().default(1),
    data: SclDataConfig.default(SclDataConfig.parse({})),
    model: SclModelSection.default(SclModelConfig.parse({})),
    loss: SclLossConfig.default(SclLossConfig.parse({})),
    train: SclTrainConfig.default(SclTrainConfig.parse({})),
    eval: SclEvalConfig.default(SclEvalConfig.parse({})),
    /** Folder the image feature cache lives in (encoders' imageFeatures); default: <runs folder>/features (featureCacheOf). */
    featureCache: z.string().optional(),
  })
  .strict();
export type SclConfig = z.infer<typeof SclConfig>;

/** The feature cache folder of a config: its own, else features/ in the runs folder of the home (never inside an installed package). */
export function featureCacheOf(c: Pick<SclConfig, 'featureCache'>): string {
  return c.featureCache ?? path.join(runsDir(), 'features');
}
export type SclConfigInput = z.input<typeof SclConfig>;

export function parseSclConfig(raw: unknown, source = 'SCL config'): SclConfig {
  return parseConfig(SclConfig, raw, source);
}

export function readSclConfig(file: string): SclConfig {
  return readConfigFile(SclConfig, file);
}

/** A config with overrides deep-merged one level into each section. */
export function sclConfig(overrides: SclConfigInput = {}): SclConfig {
  return parseSclConfig(overrides);
}
