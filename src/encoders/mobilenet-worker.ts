/** A worker thread of a backbone pool (mobilenet.ts): one model per thread, tfjs or onnxruntime, encoding the file lists it is sent. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadMobileNetCore } from './mobilenet-core.js';
import { OnnxImageBackbone } from './onnx-backbone.js';
import type { WorkerModel } from './mobilenet.js';

interface Job {
  id: number;
  paths: string[];
}

const port = parentPort;
if (!port) throw new Error('mobilenet-worker: must run as a worker thread');

const spec = workerData as WorkerModel;
const ready = spec.runtime === 'tfjs' ? loadMobileNetCore(spec.batchSize) : OnnxImageBackbone.load({ ...spec.options, threads: 1 });
ready.then(
  () => port.postMessage({ type: 'ready' }),
  (err: unknown) => port.postMessage({ type: 'error', id: -1, message: (err as Error).message ?? String(err) }),
);
port.on('message', (job: Job) => {
  ready
    .then((core) => core.encode(job.paths))
    .then(
      ({ features, failed }) => port.postMessage({ type: 'done', id: job.id, features, failed }, [features.buffer as ArrayBuffer]),
      (err: unknown) => port.postMessage({ type: 'error', id: job.id, message: (err as Error).message ?? String(err) }),
    );
});
