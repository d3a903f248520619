/**
 * A run: one experiment config trained once, in its own folder under runs/ — the resolved
 * config, the log, per-epoch and test metrics (JSON), and the trained model (safetensors).
 * `mmctr evaluate` and `mmctr predict` reopen a run from its folder.
 */
import { appendFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { loadModel, saveModel } from '../engine/checkpoint.js';
import { engineSummary } from '../engine/info.js';
import { readConfigFile } from '../util/config-file.js';
import { ConfigError } from '../util/errors.js';
import { writeTextAtomic } from '../util/atomic-write.js';
import { ExperimentConfig } from './config.js';
import { featureSpaceOf } from './feature-space.js';
import { Evaluation } from './metrics.js';
import { createModel, CtrModel } from './models/index.js';
import { evaluateSplit, fit, FitOptions, FitResult } from './trainer.js';

export function readExperimentConfig(file: string): ExperimentConfig {
  return readConfigFile(ExperimentConfig, file);
}

export interface RunResult {
  dir: string;
  seed: number;
  fit: FitResult;
  test: Evaluation;
}

/** Trains the experiment on a built store and writes the run folder. */
export function trainRun(config: ExperimentConfig, storeDir: string, runDir: string, options: Omit<FitOptions, 'checkpointDir'> = {}): RunResult {
  mkdirSync(runDir, { recursive: true });
  const logFile = path.join(runDir, 'log.txt');
  const log = (line: string) => {
    appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`);
    options.log?.(line);
  };
  writeTextAtomic(path.join(runDir, 'config.json'), JSON.stringify({ ...config, data: { ...config.data, store: path.resolve(storeDir) } }, null, 2));
  log(engineSummary());
  const model = createModel(config.model, featureSpaceOf(storeDir), config.train.seed);
  log(`${config.model.model}: ${model.parameterCount().toLocaleString('en')} parameters; training ${config.train.epochs} epoch(s)`);
  const result = fit(model, storeDir, config.train, { ...options, log, checkpointDir: path.join(runDir, 'checkpoints') });
  const test = evaluateSplit(model, storeDir, 'test');
  log(`test: AUC ${test.overall.auc.toFixed(4)} GAUC ${test.overall.gauc.toFixed(4)} logloss ${test.overall.logloss.toFixed(4)}; ${Math.round(result.samplesPerSecond)} samples/s end to end, ${Math.round(result.loopSamplesPerSecond)} in the training loop`);
  saveModel(path.join(runDir, 'model.safetensors'), model, config);
  writeTextAtomic(path.join(runDir, 'metrics.json'), JSON.stringify({ fit: result, test }, null, 2));
  return { dir: runDir, seed: config.train.seed, fit: result, test };
}

/** Reopens a run folder: its config, store and trained model. */
export function openRun(runDir: string): { config: ExperimentConfig; storeDir: string; model: CtrModel } {
  const configFile = path.join(runDir, 'config.json');
  if (!existsSync(configFile)) throw new ConfigError(configFile, ['not found: is this a run folder written by `mmctr train`?']);
  const config = readExperimentConfig(configFile);
  const storeDir = config.data.store!;
  const model = createModel(config.model, featureSpaceOf(storeDir), config.train.seed);
  loadModel(path.join(runDir, 'model.safetensors'), model);
  return { config, storeDir, model };
}
