/**
 * Every kind of config file a user writes, by name: the zod schema its reader validates with (one
 * owner each, in its stage), the JSON Schema generated from that schema for editors
 * (`schemas/<kind>.schema.json`, `mmctr config schema`), and which kind a given file is
 * (`mmctr config check`).
 */
import { z } from 'zod';
import { ExperimentConfig } from '../ctr/config.js';
import { PaperExperimentConfig } from '../ctr/experiment/paper.js';
import { SampleConfig } from '../data/sample-config.js';
import { DatasetSpec } from '../data/spec.js';
import { CoClickConfig } from '../pretrain/coclick/config.js';
import { SclConfig } from '../pretrain/config.js';
import { describeIssues, parseConfig, readJsonFile, safeParseConfig } from '../util/config-file.js';
import { ConfigError, UsageError } from '../util/errors.js';

export const CONFIG_KINDS = {
  experiment: { schema: ExperimentConfig, title: 'CTR experiment (mmctr train)' },
  paper: { schema: PaperExperimentConfig, title: 'paper comparison (mmctr experiment paper)' },
  dataset: { schema: DatasetSpec, title: 'dataset spec, dataset.json (mmctr data check / build)' },
  samples: { schema: SampleConfig, title: 'sample config (mmctr data build --config)' },
  scl: { schema: SclConfig, title: 'SCL pre-training (mmctr pretrain train / evaluate)' },
  'text-vectors': { schema: CoClickConfig, title: 'co-click text vectors (mmctr pretrain text)' },
} as const satisfies Record<string, { schema: z.ZodType; title: string }>;
export type ConfigKind = keyof typeof CONFIG_KINDS;
export const CONFIG_KIND_NAMES = Object.keys(CONFIG_KINDS) as ConfigKind[];

export function configKind(name: string): ConfigKind {
  if (!(name in CONFIG_KINDS)) throw new UsageError(`'${name}' is not a config kind: expected one of ${CONFIG_KIND_NAMES.join(', ')}`);
  return name as ConfigKind;
}

/** The committed schema file of a kind, relative to the schemas/ folder. */
export const schemaFileName = (kind: ConfigKind) => `${kind}.schema.json`;

/**
 * The JSON Schema (draft 2020-12) of a kind, as an editor reads it: the file as written, so a
 * field with a default is optional; `$schema` is allowed at the top, as every reader accepts it.
 */
export function jsonSchemaOf(kind: ConfigKind): Record<string, unknown> {
  const { schema, title } = CONFIG_KINDS[kind];
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown> & { properties?: Record<string, unknown> };
  return {
    ...json,
    $id: `https://mmctr.dev/schemas/${schemaFileName(kind)}`,
    title: `mmctr ${title}`,
    properties: { $schema: { type: 'string', description: 'the JSON Schema of this file, for editors (e.g. ../schemas/' + schemaFileName(kind) + ')' }, ...json.properties },
  };
}

/** The kind a `$schema` reference names (`../schemas/experiment.schema.json`), if any. */
function kindOfReference(raw: unknown): ConfigKind | null {
  const ref = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).$schema : undefined;
  const m = typeof ref === 'string' ? /([\w-]+)\.schema\.json$/.exec(ref) : null;
  return m && m[1] in CONFIG_KINDS ? (m[1] as ConfigKind) : null;
}

/**
 * A config file checked: its kind (`kind` given, else its `$schema`, else the one kind whose
 * schema accepts it) and the config with every default filled in. Invalid: a ConfigError listing
 * each bad field by its path (as the kind it names, or the closest kind).
 */
export function checkConfigFile(file: string, kind?: ConfigKind): { kind: ConfigKind; resolved: unknown; detectedBy: 'flag' | '$schema' | 'shape' } {
  const raw = readJsonFile(file);
  const named = kind ?? kindOfReference(raw);
  if (named) return { kind: named, resolved: parseConfig(CONFIG_KINDS[named].schema, raw, `${file} (${named} config)`), detectedBy: kind ? 'flag' : '$schema' };
  const tried = CONFIG_KIND_NAMES.map((k) => ({ kind: k, result: safeParseConfig(CONFIG_KINDS[k].schema, raw) }));
  const accepted = tried.filter((t) => t.result.success);
  if (accepted.length === 1) return { kind: accepted[0].kind, resolved: accepted[0].result.data, detectedBy: 'shape' };
  if (accepted.length > 1)
    throw new UsageError(`${file}: reads as more than one kind of config (${accepted.map((t) => t.kind).join(', ')}): name one with --kind, or add "$schema": "<path to schemas/>/<kind>.schema.json"`);
  const closest = tried.reduce((a, b) => (b.result.error!.issues.length < a.result.error!.issues.length ? b : a));
  throw new ConfigError(`${file} (no kind of config accepts it; closest: ${closest.kind})`, describeIssues(closest.result.error!));
}
