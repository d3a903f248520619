/**
 * Typed hyper-parameters of the CTR models and their training, each with its default in this one
 * place. An experiment is a named JSON config (configs/*.json) validated by ExperimentConfig.
 */
import { z } from 'zod';
import { SampleConfig } from '../data/sample-config.js';
import { ACTIVATIONS } from '../nn/activation.js';

export const Activation = z.enum(ACTIVATIONS);

/**
 * The rows of one ID table. 'full': one per id of the vocabulary (and row 0). `minCount`: ids
 * with fewer than n samples in the training split (ids never seen in training among them) share
 * row 0 with ids the store never saw and missing values. `hashBuckets`: each id's index hashed
 * (seeded) into n rows; the run log counts the ids that share a row.
 */
export const TableSize = z.union([
  z.literal('full'),
  z.object({ minCount: z.number().int().min(2, { message: 'minCount 1 keeps every id seen in training; give at least 2, or "full"' }) }).strict(),
  z.object({ hashBuckets: z.number().int().positive(), seed: z.number().int().nonnegative().default(0) }).strict(),
], { error: 'give "full", {"minCount": n} (n >= 2) or {"hashBuckets": n, "seed": s} (seed optional, default 0)' });
export type TableSize = z.infer<typeof TableSize>;

const common = {
  /** Width of every ID embedding (item, category, brand, shop, user). */
  embeddingDim: z.number().int().positive().default(32),
  /** Std of the normal initialisation of ID embeddings. */
  embeddingInitStd: z.number().positive().default(1e-4),
  /**
   * Over-MLP hidden widths and activation. ReLU as FuxiCTR's DIN: on MovieLens-100k (3 seeds,
   * docs/paper.md "Baseline parity with FuxiCTR") Dice here had the same validation AUC, a lower
   * test AUC (0.7008 vs 0.7036) and three times the validation spread; on two ad worlds test AUC
   * 0.58 +- 0.02 against ReLU's 0.626 / 0.616 +- 0.003-0.006.
   */
  mlpHidden: z.array(z.number().int().positive()).default([200, 80]),
  mlpActivation: Activation.default('relu'),
  dropout: z.number().min(0).lt(1).default(0),
  /** L2 on the touched embedding rows. */
  embeddingL2: z.number().min(0).default(0),
  /**
   * Categorical item fields embedded beside the item id: category, brand, shop (skipped when the
   * catalogue lacks them) or any attribute the dataset spec lists, by name (an error if absent).
   */
  itemFields: z.array(z.string().min(1)).refine((f) => new Set(f).size === f.length, { message: 'lists a field twice' }).default(['category']),
  /** Whether the user id is embedded (the over-MLP sees it). */
  userEmbedding: z.boolean().default(true),
  /**
   * Categorical user fields embedded beside the user (the over-MLP sees them): any attribute the
   * dataset spec's users table lists, by name (an error if absent); a user without one gets the
   * reserved 'missing' row. Default none.
   */
  userFields: z.array(z.string().min(1)).refine((f) => new Set(f).size === f.length, { message: 'lists a field twice' }).default([]),
  /**
   * How many rows each ID table has, by table: `item`, `user`, an item field's name (as in
   * itemFields) or `user.<field>` (a user field). Absent tables are 'full'. docs/scaling.md
   * "Bounded embedding tables" has the measured quality cost of each mode.
   */
  embeddingTables: z.record(z.string().min(1), TableSize).default({}),
};

/** SimTier: the histogram of cosine(target, behaviour) over N equal tiers of [-1, 1], into the over-MLP. */
export const SimTierConfig = z
  .object({
    tiers: z.number().int().min(2).max(1000).default(20),
    /**
     * What each tier holds: the raw count, log(1 + count), or count / history length. log by
     * default: raw counts (up to the history length) were the worst of the three on validation
     * GAUC on both the fashion ad world and MovieLens (docs/paper.md); the paper's table uses counts.
     */
    transform: z.enum(['count', 'log', 'fraction']).default('log'),
    /** A learnable weight per tier (initialised to 1), the production choice in MUSE. */
    learnableWeights: z.boolean().default(false),
  })
  .strict();
export type SimTierConfig = z.infer<typeof SimTierConfig>;

/**
 * MAKE: a multimodal DIN (query = target vector, keys = behaviour vectors, shallow MLP) trained
 * for several epochs on clicks; its interest vector, hidden layers and logit feed the ID model.
 */
export const MakeConfig = z
  .object({
    attentionHidden: z.array(z.number().int().positive()).min(1).default([64, 32]),
    attentionActivation: z.enum(['sigmoid', 'relu', 'prelu', 'dice']).default('dice'),
    mlpHidden: z.array(z.number().int().positive()).min(1).default([64, 32]),
    mlpActivation: Activation.default('dice'),
    /** Most epochs; the best one on validation is kept (the paper picks the count on validation). */
    epochs: z.number().int().positive().default(8),
    earlyStoppingPatience: z.number().int().nonnegative().default(2),
    monitor: z.enum(['gauc', 'auc', 'logloss']).default('gauc'),
    lr: z.number().positive().default(1e-3),
    batchSize: z.number().int().positive().default(1024),
    /**
     * Cross-fitting: K >= 2 trains K more MAKEs, fold k on the training rows of users outside
     * fold k (users split by a seeded hash); while the ID model trains, each training row takes
     * MAKE's outputs from the one that never saw it, and validation, test and serving take the
     * MAKE trained on every row. 0: every row from that one MAKE, whose outputs on the rows it was
     * trained on for several epochs are overfit, and the ID model learns to trust them (the
     * stacking leak: below ID with uninformative vectors, docs/paper.md). Needs MAKE frozen.
     */
    folds: z.union([z.literal(0), z.number().int().min(2).max(10)]).default(3),
    /**
     * Which of MAKE's outputs join the ID model: its interest vector (beside ours, into the MLP
     * input), its hidden layers (beside ours) and its logit (beside our last hidden layer, into the
     * output layer). The paper joins all three.
     */
    join: z.array(z.enum(['interest', 'hidden', 'logit'])).min(1).refine((j) => new Set(j).size === j.length, { message: 'lists an output twice' }).default(['interest', 'hidden', 'logit']),
    /** Absent: MAKE stays frozen while the ID model trains (the safe default); set: fine-tuned with this learning rate. */
    fineTuneLr: z.number().positive().optional(),
    /** A trained MAKE module (make.safetensors) to reuse instead of training one; relative to the config file. */
    module: z.string().optional(),
  })
  .strict();
export type MakeConfig = z.infer<typeof MakeConfig>;

export const DinConfig = z
  .object({
    model: z.literal('din'),
    ...common,
    /** The paper's Vector baseline: frozen item vectors concatenated to the ID item embeddings (target attention and MLP). */
    vector: z.boolean().default(false),
    /** The paper's SimScore baseline: cosine(target, behaviour) as an additive bias on each raw attention weight. */
    simScore: z.boolean().default(false),
    simTier: SimTierConfig.optional(),
    make: MakeConfig.optional(),
    /**
     * How the over-MLP's weights on content inputs (SimTier's tiers, MAKE's interest, hidden
     * layers and logit) start: 'zero' (the model starts as the ID model and content weights grow
     * only as far as the loss pulls them, so content without signal stays out) or 'glorot' (as
     * every other weight).
     */
    contentInit: z.enum(['zero', 'glorot']).default('zero'),
    /** Attention unit over [q, k, q - k, q * k]: hidden widths and activation. */
    attentionHidden: z.array(z.number().int().positive()).min(1).default([80, 40]),
    attentionActivation: z.enum(['sigmoid', 'relu', 'prelu', 'dice']).default('dice'),
    /** Normalise attention weights with a masked softmax (the DIN paper keeps raw weights). */
    attentionSoftmax: z.boolean().default(false),
    /**
     * What the attention unit does with the padding of histories shorter than the history
     * length in training: 'skip' (padding pairs are not scored; Dice's batch statistics cover the
     * real behaviours only) or 'score' (FuxiCTR's DIN: every position scored with a zero key, so
     * padding adds nothing to the interest but enters Dice's statistics). Inference is the same
     * either way. 'score' needs raw weights (attentionSoftmax false).
     */
    attentionPadding: z.enum(['skip', 'score']).default('skip'),
  })
  .strict();

export const SumPoolingConfig = z.object({ model: z.literal('sum-pooling'), ...common }).strict();

export const ModelConfig = z.discriminatedUnion('model', [DinConfig, SumPoolingConfig]);
export type ModelConfig = z.infer<typeof ModelConfig>;
export type DinConfig = z.infer<typeof DinConfig>;

export const TrainConfig = z
  .object({
    batchSize: z.number().int().positive().default(1024),
    /** Learning rate of the dense parameters (Adam) and of the embeddings (sparse Adam). */
    lr: z.number().positive().default(1e-3),
    embeddingLr: z.number().positive().optional(),
    /** Adam on the embeddings: lazy (touched rows only, as torch's SparseAdam) or dense (every row every step, as Adam on nn.Embedding in FuxiCTR). */
    embeddingAdam: z.enum(['lazy', 'dense']).default('lazy'),
    /** ID models train one epoch by default; more with early stopping on validation. */
    epochs: z.number().int().positive().default(1),
    earlyStoppingPatience: z.number().int().nonnegative().default(1),
    /** Metric early stopping and model selection watch. */
    monitor: z.enum(['gauc', 'auc', 'logloss']).default('auc'),
    /**
     * The model a fit returns: 'best' (default) is the epoch best on validation by `monitor`, with
     * early stopping; 'last' trains every one of `epochs` (no early stopping) and keeps the last.
     */
    keep: z.enum(['best', 'last']).default('best'),
    shuffle: z.boolean().default(true),
    /**
     * Clip the joint L2 norm of all gradients (dense and embedding rows) to this each step, 0 for
     * none. 10 as FuxiCTR's fit(); on MovieLens-100k it never binds (the same AUC to 4 digits with
     * 0), so it only guards against rare blow-ups (docs/paper.md "Baseline parity with FuxiCTR").
     */
    clipGradNorm: z.number().min(0).default(10),
    /**
     * Data-parallel runs (`--distributed`): Dice standardises by the global batch's statistics
     * ('global': the ranks meet at every Dice layer forward and backward; the run equals one
     * process on the global batch) or by each rank's own share ('local': DDP without
     * SyncBatchNorm; fewer meetings per step, close but not equal to one process). One process
     * reads neither. docs/distributed.md measures both.
     */
    batchStatistics: z.enum(['global', 'local']).default('global'),
    seed: z.number().int().nonnegative().default(1),
    /** Checkpoint every N steps (0: only at epoch ends and by time, checkpointMinutes). */
    checkpointEvery: z.number().int().nonnegative().default(0),
    /**
     * Checkpoint when this many minutes of training have passed since the last checkpoint (0: not
     * by time). On by default so that `mmctr resume` works on any default run that is long enough
     * to lose: a run shorter than this only checkpoints at epoch ends; the cost is one write of
     * the weights and optimiser state per interval.
     */
    checkpointMinutes: z.number().min(0).default(5),
  })
  .strict();
export type TrainConfig = z.infer<typeof TrainConfig>;

/** Where an experiment's samples come from, and its item vectors. */
export const DataSection = z
  .object({
    /** A built sample store folder, or a dataset spec to build one from. */
    store: z.string().optional(),
    dataset: z.string().optional(),
    /** Built-in real data adapters ('movielens-100k', 'taobao-samples'). */
    adapter: z.enum(['movielens-100k', 'taobao-samples']).optional(),
    samples: SampleConfig.optional(),
    /**
     * Item vectors for the multimodal features (Vector, SimScore, SimTier, MAKE): any source
     * encoders/vector-file.ts reads (an `mmctr pretrain embed` export, a feature cache file, or a
     * precomputed jsonl, csv, tsv or safetensors file).
     */
    vectors: z.string().optional(),
  })
  .strict();
export type DataSectionConfig = z.infer<typeof DataSection>;

export const hasDataSource = (d: DataSectionConfig): boolean => Boolean(d.store || d.dataset || d.adapter);

export const ExperimentConfig = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    data: DataSection.refine(hasDataSource, { message: 'give one of store, dataset or adapter' }),
    model: ModelConfig,
    train: TrainConfig.default(TrainConfig.parse({})),
  })
  .strict();
export type ExperimentConfig = z.infer<typeof ExperimentConfig>;
