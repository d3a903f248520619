/** Errors about user data: each names the file, and where known the line and field. */
import { MmctrError } from '../util/errors.js';

export interface DataLocation {
  file: string;
  line?: number;
  field?: string;
}

export function formatLocation({ file, line, field }: DataLocation): string {
  return `${file}${line !== undefined ? `:${line}` : ''}${field ? ` field '${field}'` : ''}`;
}

export class DataError extends MmctrError {
  constructor(
    readonly location: DataLocation,
    readonly detail: string,
  ) {
    super(`${formatLocation(location)}: ${detail}`);
  }
}

export { ConfigError } from '../util/errors.js';
