/**
 * cli/: the `mmctr` command. Thin: it parses arguments, calls the stages, and prints results for
 * people (tables, progress) or machines (--json). Typed mmctr errors print as one clear line;
 * anything else is a bug and prints its stack. Exit codes: 0 done, 1 the work failed (bad data,
 * a failed run), 2 the command line or a config it names is wrong (a bad flag value, conflicting
 * flags, a missing file, an invalid config), as in POSIX utilities.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError, MmctrError, UsageError } from '../util/errors.js';
import { packageVersion, setHomeDir } from '../util/paths.js';
import { registerConfig } from './config.js';
import { registerCtr } from './ctr.js';
import { registerData } from './data.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerExperiment } from './experiment.js';
import { registerExport } from './export.js';
import { registerPretrain } from './pretrain.js';
import { registerReport } from './report.js';
import { registerTextVectors } from './text-vectors.js';
import { registerServe } from './serve.js';
import { registerStream } from './stream.js';
import { registerSweep } from './sweep.js';
import { registerWorld } from './world.js';

const USAGE_EXIT = 2;

const program = new Command();
program
  .name('mmctr')
  .description('Multimodal item representations for CTR ranking (SCL, SimTier, MAKE) on a native-speed engine')
  .version(packageVersion(), '-V, --version', 'print the version of mmctr')
  .showHelpAfterError('(mmctr <command> --help lists its options)')
  .configureOutput({ outputError: (message, write) => write(message.replace(/^error: /, 'mmctr: ')) })
  // Commander's own usage errors (unknown option, missing argument, a value a flag's parser refused) exit 2.
  .exitOverride((err: CommanderError) => {
    throw err;
  });

// Global, so every command sees the same home (util/paths.ts) from its first line.
program
  .option('--home <dir>', 'where mmctr writes by default: its runs folder (run folders, caches, the demo, the serve default model) is <home>/runs; default: $MMCTR_HOME, else the working directory')
  .hook('preAction', () => {
    const { home } = program.opts<{ home?: string }>();
    if (home) setHomeDir(home);
  });

registerDoctor(program);
registerData(program);
registerCtr(program);
registerSweep(program);
registerConfig(program);
registerExperiment(program);
registerReport(program);
registerTextVectors(registerPretrain(program));
registerWorld(program);
registerDemo(program);
registerServe(program);
registerExport(program);
registerStream(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : USAGE_EXIT); // commander printed the message
  if (err instanceof MmctrError) {
    console.error(`mmctr: ${err.message}`);
    process.exit(err instanceof UsageError || err instanceof ConfigError ? USAGE_EXIT : 1);
  }
  throw err;
}
