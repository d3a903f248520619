/** Typed errors of the engine. */
import { MmctrError } from '../util/errors.js';

/** The engine was misused: a missing build, a bad argument. */
export class EngineError extends MmctrError {}

/** Two shapes that an op needs to agree do not. */
export class ShapeError extends EngineError {}

/** A parameter or checkpoint file is unreadable or does not match the model. */
export class ParameterFileError extends MmctrError {
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}
