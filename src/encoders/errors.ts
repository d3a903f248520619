/** Typed errors of the encoders stage. */
import { MmctrError } from '../util/errors.js';

/** An encoder could not be loaded or was misused (a bad argument, a missing package). */
export class EncoderError extends MmctrError {}

/** A feature file (precomputed vectors, word vectors, cache) is malformed; names file, line and field. */
export class FeatureFileError extends MmctrError {
  constructor(
    readonly file: string,
    readonly line: number | null,
    detail: string,
  ) {
    super(`${file}${line != null ? `:${line}` : ''}: ${detail}`);
  }
}
