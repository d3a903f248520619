/**
 * cli/: the `mmctr` command. Thin: it parses arguments, calls the stages, and prints results for
 * people (tables, progress) or machines (--json). Typed mmctr errors print as one clear line;
 * anything else is a bug and prints its stack.
 */
import { Command } from 'commander';
import { MmctrError } from '../util/errors.js';
import { setHomeDir } from '../util/paths.js';
import { registerCtr } from './ctr.js';
import { registerData } from './data.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerExperiment } from './experiment.js';
import { registerPretrain } from './pretrain.js';
import { registerReport } from './report.js';
import { registerTextVectors } from './text-vectors.js';
import { registerServe } from './serve.js';
import { registerWorld } from './world.js';

const program = new Command();
program
  .name('mmctr')
  .description('Multimodal item representations for CTR ranking (SCL, SimTier, MAKE) on a native-speed engine')
  .showHelpAfterError();

// Global, so every command sees the same home (util/paths.ts) from its first line.
program
  .option('--home <dir>', 'where mmctr writes what it builds for itself (the serve default model, runs/serve-default); default: $MMCTR_HOME, else the working directory')
  .hook('preAction', () => {
    const { home } = program.opts<{ home?: string }>();
    if (home) setHomeDir(home);
  });

registerDoctor(program);
registerData(program);
registerCtr(program);
registerExperiment(program);
registerReport(program);
registerPretrain(program);
registerTextVectors(program);
registerWorld(program);
registerDemo(program);
registerServe(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof MmctrError) {
    console.error(`mmctr: ${err.message}`);
    process.exit(1);
  }
  throw err;
}
