/**
 * The one loader of onnxruntime-node, an optional peer dependency (hundreds of MB with its
 * native library), imported only when an ONNX session is opened: the export stage's scorer
 * (export/onnx-scorer.ts) and the encoders' ONNX image backbones (encoders/onnx-backbone.ts).
 */
import type * as Ort from 'onnxruntime-node';
import { MmctrError } from './errors.js';

/** onnxruntime-node is not installed; `what` names the feature that needs it. */
export class OnnxRuntimeMissingError extends MmctrError {
  constructor(what: string, cause: string) {
    super(`${what} needs onnxruntime-node, which is not installed (${cause}): npm install onnxruntime-node`);
  }
}

let runtime: Promise<typeof Ort> | null = null;

/** onnxruntime-node, or OnnxRuntimeMissingError naming `what` when the package is absent. */
export async function loadOnnxRuntime(what: string): Promise<typeof Ort> {
  runtime ??= import('onnxruntime-node');
  try {
    return await runtime;
  } catch (err) {
    runtime = null;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new OnnxRuntimeMissingError(what, (err as Error).message.split('\n')[0]);
    throw err;
  }
}

/**
 * Whether onnxruntime-node can be imported here (the 'auto' choice of a backbone's runtime). An
 * installed one that fails to load (its native library refused by this system) is not importable
 * either: a warning says why, and the caller falls back.
 */
export async function onnxRuntimeAvailable(): Promise<boolean> {
  try {
    await loadOnnxRuntime('');
    return true;
  } catch (err) {
    if (!(err instanceof OnnxRuntimeMissingError)) process.emitWarning(`onnxruntime-node is installed but does not load (${(err as Error).message}); using the fallback`);
    return false;
  }
}
