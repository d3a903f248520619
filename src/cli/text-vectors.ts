/**
 * `mmctr pretrain text` (formerly `mmctr pretrain-text`): text-only item vectors for logs without searches (src/pretrain/coclick/):
 * co-click pre-training of the text tower on the training split, or the untrained ngram baseline;
 * writes an `mmctr` item-embeddings file and prints the retrieval figures on the validation
 * split's co-click pairs (popular-item reference, ngram, and the trained vectors).
 */
import { Command } from 'commander';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { coClickConfig, CoClickConfig, readCoClickConfig } from '../pretrain/coclick/config.js';
import { formatCoClickTable, runTextVectors, TEXT_METHODS, TextMethod } from '../pretrain/coclick/run.js';
import { writeEmbeddings } from '../encoders/vector-file.js';
import { ConfigError, MmctrError } from '../util/errors.js';
import { commandWithAlias, existingFile, existingPath, oneOf, positiveNumber, RUNS_FLAG, runsFolder, seedNumber } from './options.js';
import { progressBar } from './progress.js';
import { resolveStore, type StoreSource } from '../pipeline/store.js';
import { SampleStore } from '../data/store.js';

type DataRef = { store?: string; dataset?: string; adapter?: string; samples?: unknown };

/** The data section of a config, keeping only what store resolution reads. */
function dataOf(raw: Record<string, unknown>, file: string): DataRef {
  const d = raw.data as DataRef | undefined;
  if (!d || typeof d !== 'object' || !(d.store || d.dataset || d.adapter)) throw new ConfigError(file, ['data: needs store, dataset or adapter']);
  return { store: d.store, dataset: d.dataset, adapter: d.adapter, samples: d.samples };
}

/**
 * The input: a built store folder, a text-vectors config ("kind": "text-vectors", its data section
 * and settings), or an experiment config (its data section; settings from --config or defaults).
 */
async function resolveInput(input: string, configFile: string | undefined, runs: string): Promise<{ store: SampleStore; config: CoClickConfig }> {
  let config = configFile ? readCoClickConfig(configFile) : coClickConfig();
  const abs = path.resolve(input);
  if (statSync(abs).isDirectory()) {
    if (!SampleStore.isStore(abs)) throw new MmctrError(`${input} is a folder but not a sample store (no meta.json)`);
    return { store: SampleStore.open(abs), config };
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(abs, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(input, [`cannot read it as JSON: ${(err as Error).message}`]);
  }
  if (raw.kind === 'text-vectors') {
    if (configFile) throw new MmctrError(`${input} is a text-vectors config itself: leave out --config`);
    config = readCoClickConfig(abs);
  }
  const data = dataOf(raw, input);
  const store = await resolveStore(data as StoreSource, path.dirname(abs), runs, { progress: progressBar });
  return { store, config };
}

/** Registers `mmctr pretrain text` (and its old name `mmctr pretrain text`) under the `pretrain` command. */
export function registerTextVectors(pretrain: Command): void {
  commandWithAlias(pretrain, 'text', 'pretrain-text', (command) =>
    command
      .description('text-only item vectors from co-clicks in the training split (logs without searches); writes an item-embeddings file')
      .argument('<input>', 'a CTR experiment config (e.g. configs/movielens-din.json), a text-vectors config (configs/movielens-text-vectors.json) or a built store folder', existingPath('a sample store folder or a config file'))
      .requiredOption('--out <file>', 'the embeddings file to write (.safetensors)')
      .option('--method <name>', TEXT_METHODS.join(' | '), oneOf(TEXT_METHODS), 'coclick' as TextMethod)
      .option('--config <file>', 'text-vectors settings (CoClickConfig JSON) when the input is an experiment config or a store', existingFile('a text-vectors config (JSON)'))
      .option('--seed <n>', 'random seed (overrides the config)', seedNumber)
      .option('--epochs <n>', 'training epochs (overrides the config)', positiveNumber)
      .option(...RUNS_FLAG)
      .option('--json', 'print the report as one JSON object')
      .action(async (input: string, opts: { out: string; method: TextMethod; config?: string; seed?: number; epochs?: number; runs?: string; json?: boolean }) => {
        const method = opts.method;
        const { store, config } = await resolveInput(input, opts.config, runsFolder(opts.runs));
        if (opts.seed !== undefined) config.seed = opts.seed;
        if (opts.epochs !== undefined) config.train.epochs = opts.epochs;
        const bar = progressBar('coclick');
        const res = runTextVectors(store, config, method, (p) => bar.update(p.step, p.steps, `epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(4)} | ${p.pairsPerSec.toFixed(0)} pairs/s`));
        bar.stop();
        const missing = config.text.fields.filter((f) => !res.fields.includes(f));
        if (missing.length && !opts.json)
          console.error(`note: the store's catalogue has no (or empty) field(s) ${missing.join(', ')}; item texts are the title${res.fields.length ? ` + ${res.fields.join(', ')}` : ''} (a store built before the adapter's attributes were kept? rebuild it with \`mmctr data build\`)`);
        mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
        const report = { method, store: store.dir, fields: res.fields, trainPairs: res.train, heldOutPairs: res.heldOut, training: res.training ?? null, retrieval: res.eval, config };
        writeEmbeddings(opts.out, res.ids, res.vectors, res.dim, { method, store: store.dir, fields: JSON.stringify(res.fields), config: JSON.stringify(config), retrieval: JSON.stringify(res.eval) });
        if (opts.json) console.log(JSON.stringify({ out: opts.out, ...report }));
        else {
          const t = res.training;
          console.log(
            `${method}: ${res.ids.length} items x ${res.dim} -> ${opts.out}; texts: title${res.fields.length ? ` + ${res.fields.join(', ')}` : ''}; ${res.train.pairs} training co-click pairs (window ${config.pairs.window})` +
              (t ? `; trained ${config.train.epochs} epochs, ${t.steps} steps in ${t.seconds.toFixed(1)} s, final loss ${t.finalLoss.toFixed(4)}` : ''),
          );
          console.log(`held-out: ${res.heldOut.pairs} co-click pairs of the validation split (target vs its latest earlier click)`);
          console.log(formatCoClickTable(res.eval, config.eval.candidates, config.eval.topK));
        }
      }),
  );
}
