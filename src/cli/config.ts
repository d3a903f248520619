/**
 * `mmctr config schema | check`: the JSON Schema of each config kind (for editors; committed under
 * schemas/), and a config file checked, printed with every default filled in.
 */
import type { Command } from 'commander';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { CONFIG_KIND_NAMES, CONFIG_KINDS, ConfigKind, configKind, jsonSchemaOf, schemaFileName, checkConfigFile } from '../pipeline/configs.js';
import { writeTextAtomic } from '../util/atomic-write.js';
import { UsageError } from '../util/errors.js';
import { existingFile, oneOf } from './options.js';

const kinds = () => CONFIG_KIND_NAMES.map((k) => `  ${k.padEnd(13)} ${CONFIG_KINDS[k].title}`).join('\n');

export function registerConfig(program: Command): void {
  const config = program.command('config').description('config files: their JSON Schemas (for editors) and a check that prints the resolved config');
  config
    .command('schema')
    .argument('[kind]', `one of ${CONFIG_KIND_NAMES.join(', ')} (none: list them)`)
    .description('print the JSON Schema of a config kind, or with --out write every kind\'s as <kind>.schema.json')
    .option('--out <dir>', 'write every kind\'s schema into this folder (the committed schemas/ are made this way)')
    .action((name: string | undefined, opts: { out?: string }) => {
      if (opts.out) {
        if (name) throw new UsageError('config schema --out writes every kind: leave out the kind');
        mkdirSync(opts.out, { recursive: true });
        for (const k of CONFIG_KIND_NAMES) writeTextAtomic(path.join(opts.out, schemaFileName(k)), `${JSON.stringify(jsonSchemaOf(k), null, 2)}\n`);
        console.error(`wrote ${CONFIG_KIND_NAMES.length} schemas to ${opts.out}`);
        return;
      }
      if (!name) {
        console.log(`config kinds (mmctr config schema <kind>):\n${kinds()}`);
        return;
      }
      console.log(JSON.stringify(jsonSchemaOf(configKind(name)), null, 2));
    });
  config
    .command('check')
    .argument('<file>', 'a config file (JSON)', existingFile('a config file (JSON)'))
    .description('validate a config file and print it with every default filled in (its kind from --kind, its "$schema", or its shape)')
    .option('--kind <kind>', `the kind of config: ${CONFIG_KIND_NAMES.join(', ')}`, oneOf(CONFIG_KIND_NAMES))
    .action((file: string, opts: { kind?: ConfigKind }) => {
      const checked = checkConfigFile(file, opts.kind);
      const by = { flag: 'as --kind says', $schema: 'named by its $schema', shape: 'the one kind its fields match' }[checked.detectedBy];
      console.error(`${file}: a valid ${checked.kind} config (${by}); resolved, with defaults:`);
      console.log(JSON.stringify(checked.resolved, null, 2));
    });
}
