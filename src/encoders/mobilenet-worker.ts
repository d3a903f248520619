/** A worker thread of the MobileNetV2 pool: one model per thread, encodes the file lists it is sent. */
import { parentPort, workerData } from 'node:worker_threads';
import { loadMobileNetCore } from './mobilenet-core.js';

interface Job {
  id: number;
  paths: string[];
}

const port = parentPort;
if (!port) throw new Error('mobilenet-worker: must run as a worker thread');

const ready = loadMobileNetCore((workerData as { batchSize: number }).batchSize);
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
