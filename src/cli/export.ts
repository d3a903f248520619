/** `mmctr export onnx`: a trained run as one ONNX graph and its side files (export/run-export.ts). */
import { Command } from 'commander';
import { exportRunToOnnx } from '../export/run-export.js';
import { existingDir } from './options.js';

export function registerExport(program: Command): void {
  const exporter = program.command('export').description('export a trained run for other serving stacks');
  exporter
    .command('onnx')
    .description('the whole ranking model as one ONNX graph (<out>), with its input contract (<out>.json) and id maps (<out>.ids.json); see docs/export.md')
    .argument('<run>', 'run folder written by `mmctr train`', existingDir('a run folder written by `mmctr train`'))
    .requiredOption('--out <file>', 'the .onnx file to write (its side files go beside it)')
    .option('--json', 'print the result as one JSON object')
    .action((runDir: string, opts: { out: string; json?: boolean }) => {
      const r = exportRunToOnnx(runDir, opts.out);
      const summary = { file: r.file, sideFile: r.sideFile, idsFile: r.idsFile, bytes: r.bytes, seconds: r.seconds, inputs: r.side.inputs.map((i) => i.name) };
      if (opts.json) console.log(JSON.stringify(summary));
      else {
        console.log(`wrote ${r.file} (${(r.bytes / 1e6).toFixed(2)} MB, ${r.seconds.toFixed(2)} s), ${r.sideFile}, ${r.idsFile}`);
        console.log(`inputs: ${r.side.inputs.map((i) => `${i.name} [${i.shape.join(', ')}] ${i.dtype}`).join('; ')}`);
      }
    });
}
