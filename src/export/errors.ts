/** Typed errors of the export stage: a model part without an ONNX form, a folder that is not a run. */
import { MmctrError, UsageError } from '../util/errors.js';

/** A part of the model has no ONNX form here: `part` is its dotted name (or the model's kind), `reason` why. */
export class ExportError extends MmctrError {
  constructor(
    readonly part: string,
    readonly reason: string,
  ) {
    super(`cannot export ${part} to ONNX: ${reason}`);
  }
}

/** The folder given as a run lacks what `mmctr train` writes (the CLI exits with code 2). */
export class NotARunError extends UsageError {
  constructor(
    readonly dir: string,
    readonly missing: string,
  ) {
    super(`${dir} is not a run folder: ${missing} is missing (a run folder written by \`mmctr train\` holds config.json and model.safetensors)`);
  }
}
