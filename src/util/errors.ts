/**
 * The root of mmctr's typed errors. Every stage throws a subclass whose message names the file,
 * line or field at fault and what was expected, so that the CLI prints it as it is (no stack).
 */
export class MmctrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A configuration file (dataset spec, sample or experiment config) does not match its schema. */
export class ConfigError extends MmctrError {
  constructor(
    readonly file: string,
    readonly issues: string[],
  ) {
    super(`${file}: invalid configuration\n${issues.map((i) => `  - ${i}`).join('\n')}`);
  }
}

/** The command line asks for something that cannot be done as given (conflicting or missing flags); the CLI exits with code 2. */
export class UsageError extends MmctrError {}
