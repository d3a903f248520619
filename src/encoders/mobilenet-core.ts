/**
 * The MobileNetV2 image backbone, in-process: tfjs on its WebAssembly backend (no native build,
 * no download) runs the MobileNetV2 whose weights `nsfwjs@4.3.0` ships inside its npm package
 * (as base64 in JS modules: `nsfwjs/dist/models/mobilenet_v2/*.min.js`). The feature is the
 * 1280-d output of the global average pool (`average_pooling2d_1`), i.e. the penultimate layer,
 * before the package's 5-way classifier head.
 *
 * Preprocessing (part of the backbone id): decode with sharp, flatten alpha onto white, resize to
 * 224x224 with `fit: contain` on a white background (product photos are on white; contain keeps
 * the whole garment), RGB bytes / 255, as nsfwjs does.
 *
 * Used directly (workers = 0) and by each worker thread of `mobilenet.ts` (one model per thread).
 * `decodeImage` is the one image decoder of the encoders: the ONNX runtime (onnx-backbone.ts)
 * decodes with it too, so both runtimes see the same pixels.
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { EncoderError } from './errors.js';

export const MOBILENET_ID = 'mobilenetv2-nsfwjs-4.3.0/average_pooling2d_1/224';
export const MOBILENET_DIM = 1280;
export const MOBILENET_SIZE = 224;
export const MOBILENET_ENDPOINT = 'average_pooling2d_1';

type Tf = typeof import('@tensorflow/tfjs');
interface NsfwModel {
  infer(img: unknown, endpoint?: string): import('@tensorflow/tfjs').Tensor;
  dispose(): void;
}

export interface MobileNetCore {
  /** Features [paths.length, 1280]; unreadable files are zero rows listed in `failed`. */
  encode(paths: readonly string[]): Promise<{ features: Float32Array; failed: { index: number; reason: string }[] }>;
  dispose(): void;
}

let tfPromise: Promise<Tf> | null = null;

/** tfjs with the wasm backend, its .wasm binaries read from node_modules (never a CDN, never fetch). */
async function loadTf(): Promise<Tf> {
  if (!tfPromise) {
    tfPromise = (async () => {
      let tf: Tf;
      let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
      try {
        tf = await import('@tensorflow/tfjs');
        wasm = await import('@tensorflow/tfjs-backend-wasm');
      } catch (err) {
        throw new EncoderError(`the MobileNetV2 backbone needs @tensorflow/tfjs and @tensorflow/tfjs-backend-wasm (npm install): ${(err as Error).message}`);
      }
      const require = createRequire(import.meta.url);
      const dir = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
      const file = (name: string) => path.join(dir, name);
      // usePlatformFetch = false: emscripten then reads the files with fs (Node's fetch refuses paths).
      wasm.setWasmPaths(
        {
          'tfjs-backend-wasm.wasm': file('tfjs-backend-wasm.wasm'),
          'tfjs-backend-wasm-simd.wasm': file('tfjs-backend-wasm-simd.wasm'),
          'tfjs-backend-wasm-threaded-simd.wasm': file('tfjs-backend-wasm-threaded-simd.wasm'),
        },
        false,
      );
      if (!(await tf.setBackend('wasm'))) throw new EncoderError('tfjs: the wasm backend failed to initialise');
      await tf.ready();
      return tf;
    })();
  }
  return tfPromise;
}

let sharpLib: typeof import('sharp').default | null = null;

/**
 * Decodes and resizes one image to 224x224x3 RGB bytes; throws on unreadable files. After the
 * first call, sharp's work is queued on libuv's threads before this returns its promise, so a
 * caller that then blocks its thread (onnxruntime's run) has the decode done meanwhile.
 */
export async function decodeImage(file: string, size = MOBILENET_SIZE): Promise<Uint8Array> {
  const sharp = sharpLib ?? (sharpLib = (await import('sharp')).default);
  // Checked here, not left to sharp: libvips keeps one error buffer, so concurrent failures can
  // swap messages, and "missing" must not be reported as "corrupt". Synchronous (microseconds), so
  // no turn of the event loop stands between the call and sharp's start.
  statSync(file);
  const { data, info } = await sharp(file, { failOn: 'error' })
    .flatten({ background: '#ffffff' })
    .resize(size, size, { fit: 'contain', background: '#ffffff' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size || info.channels !== 3) {
    throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}, expected ${size}x${size}x3`);
  }
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

/** The failed-row reason of a decode error: "missing file: ..." or "unreadable image: ...". */
export function reasonOf(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if ((err as NodeJS.ErrnoException)?.code === 'ENOENT' || /no such file|missing/i.test(msg)) return `missing file: ${msg}`;
  return `unreadable image: ${msg}`;
}

/** A batch's decode results from image `start` on: the decoded rows and pixels; each file that failed goes to `failed`. */
export function decodedRows(decoded: readonly ({ px: Uint8Array } | { err: unknown })[], start: number, failed: { index: number; reason: string }[]): { rows: number[]; pixels: Uint8Array[] } {
  const rows: number[] = [];
  const pixels: Uint8Array[] = [];
  decoded.forEach((d, j) => {
    if ('px' in d) {
      rows.push(start + j);
      pixels.push(d.px);
    } else failed.push({ index: start + j, reason: reasonOf(d.err) });
  });
  return { rows, pixels };
}

/** Loads the model (about 0.2-1 s; the weights are in the package) and returns an encoder. */
export async function loadMobileNetCore(batchSize = 8): Promise<MobileNetCore> {
  const tf = await loadTf();
  let nsfwjs: typeof import('nsfwjs');
  try {
    nsfwjs = await import('nsfwjs');
  } catch (err) {
    throw new EncoderError(`the MobileNetV2 backbone needs nsfwjs@4.3.0 (npm install): ${(err as Error).message}`);
  }
  // nsfwjs logs a console.info banner on load; keep our output clean.
  const info = console.info;
  console.info = () => {};
  let model: NsfwModel;
  try {
    model = (await nsfwjs.load('MobileNetV2', { size: MOBILENET_SIZE })) as unknown as NsfwModel;
  } finally {
    console.info = info;
  }
  const n = MOBILENET_SIZE * MOBILENET_SIZE * 3;
  return {
    async encode(paths) {
      const features = new Float32Array(paths.length * MOBILENET_DIM);
      const failed: { index: number; reason: string }[] = [];
      for (let s = 0; s < paths.length; s += batchSize) {
        const decoded = await Promise.all(
          paths.slice(s, s + batchSize).map((p) => decodeImage(p).then((px) => ({ px }), (err: unknown) => ({ err }))),
        );
        const { rows: idx, pixels } = decodedRows(decoded, s, failed);
        if (!idx.length) continue;
        const batch = new Int32Array(idx.length * n);
        pixels.forEach((px, j) => batch.set(px, j * n));
        const x = tf.tensor4d(batch, [idx.length, MOBILENET_SIZE, MOBILENET_SIZE, 3], 'int32');
        // nsfwjs's infer reshapes to a batch of one; run the truncated model on the batch ourselves.
        const out = tf.tidy(() => {
          const m = intermediate(tf, model);
          return m.predict(x.toFloat().div(255)) as import('@tensorflow/tfjs').Tensor;
        });
        const v = (await out.data()) as Float32Array;
        out.dispose();
        x.dispose();
        if (v.length !== idx.length * MOBILENET_DIM) throw new EncoderError(`MobileNetV2: got ${v.length} values for ${idx.length} images`);
        idx.forEach((i, j) => features.set(v.subarray(j * MOBILENET_DIM, (j + 1) * MOBILENET_DIM), i * MOBILENET_DIM));
      }
      return { features, failed };
    },
    dispose() {
      try {
        model.dispose();
      } catch {
        // nsfwjs disposes shared layers twice (the cut model and the full one); harmless at close.
      }
    },
  };
}

/** The layers model cut at the average pool (nsfwjs builds and caches it on first infer). */
function intermediate(tf: Tf, model: NsfwModel): import('@tensorflow/tfjs').LayersModel {
  const m = model as unknown as { intermediateModels: Record<string, import('@tensorflow/tfjs').LayersModel> };
  if (!m.intermediateModels[MOBILENET_ENDPOINT]) {
    tf.tidy(() => model.infer(tf.zeros([MOBILENET_SIZE, MOBILENET_SIZE, 3]), MOBILENET_ENDPOINT));
  }
  const cut = m.intermediateModels[MOBILENET_ENDPOINT];
  if (!cut) throw new EncoderError(`nsfwjs: no intermediate model for ${MOBILENET_ENDPOINT}`);
  return cut;
}
