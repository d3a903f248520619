/** `mmctr doctor`: what this installation runs on (BLAS backend, threads, the image backbone's runtime, MPI for distributed training, optional tools). */
import { Command } from 'commander';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { distributedUnavailable, mpirunVersion } from '../distributed/mpi.js';
import { resolveRuntime } from '../encoders/backbone.js';
import { engineInfo } from '../engine/info.js';
import { sharedDataDir } from '../util/paths.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('report the compute backend and optional tools')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }) => {
      const engine = engineInfo();
      const mpiMissing = distributedUnavailable();
      const torch = spawnSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
      const report = {
        node: process.version,
        cpus: os.cpus().length,
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        blas: engine.blas,
        blasConfig: engine.blasConfig,
        threads: engine.threads,
        imageRuntime: await resolveRuntime('auto'),
        mpi: mpiMissing ? null : mpirunVersion(),
        torchReference: torch.status === 0 ? torch.stdout.trim() : null,
        sharedData: existsSync(sharedDataDir()) ? sharedDataDir() : null,
      };
      if (opts.json) {
        console.log(JSON.stringify(report));
        return;
      }
      console.log(`node            ${report.node} on ${report.cpus} cores, ${report.memoryGiB} GiB`);
      console.log(`GEMM backend    ${report.blas} (${report.blasConfig})`);
      console.log(`kernel threads  ${report.threads} (MMCTR_THREADS to change)`);
      console.log(`image runtime   ${report.imageRuntime === 'onnx' ? 'onnx (onnxruntime-node; MobileNetV2 converted at first use)' : 'tfjs (npm install onnxruntime-node: MobileNetV2 encodes 5x faster or more)'}`);
      console.log(`distributed     ${report.mpi ? `${report.mpi}: mpirun -np <ranks> mmctr train <config> --distributed` : `off: ${mpiMissing}`}`);
      console.log(`torch reference ${report.torchReference ?? 'absent (apt-get install python3-torch for bench:engine ratios)'}`);
      console.log(`shared data     ${report.sharedData ?? 'absent (real-data benchmarks and tests will skip)'}`);
    });
}
