/**
 * Command-line values checked at the boundary, with the same zod schemas as the configs they
 * override (`--epochs` is read by train.epochs' schema, so the flag and the file agree on what
 * is valid). A bad value becomes commander's InvalidArgumentError, which commander reports with
 * the flag and the value; main.ts turns every usage error into exit code 2.
 */
import { Command, InvalidArgumentError } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { z } from 'zod';
import { runsDir } from '../util/paths.js';

/** What a zod issue expected, in words ("an integer >= 0", "one of a, b"). */
function expected(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'too_small':
      return `a number ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`;
    case 'too_big':
      return `a number ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`;
    case 'invalid_value':
      return `one of ${issue.values.map(String).join(', ')}`;
    case 'invalid_type':
      return issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`;
    default:
      return issue.message;
  }
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A value read from text: `schema` takes a number (the text must be a number literal) or the text itself. */
function reader<T>(schema: z.ZodType<T>, numeric: boolean): (text: string) => T {
  return (text) => {
    if (numeric && !NUMBER.test(text.trim())) throw new InvalidArgumentError(`Expected a number.`);
    const parsed = schema.safeParse(numeric ? Number(text) : text);
    if (!parsed.success) throw new InvalidArgumentError(`Expected ${expected(parsed.error.issues[0])}.`);
    return parsed.data;
  };
}

/** A number flag's parser: read by `schema` (a config field's schema, or one written for the flag). */
export function number(schema: z.ZodType<number | undefined>): (text: string) => number {
  return reader(schema, true) as (text: string) => number;
}

/** A text flag's parser, read by `schema`. */
export function text<T>(schema: z.ZodType<T>): (text: string) => T {
  return reader(schema, false);
}

/** A comma-separated list, each element read by `schema` (at least one). */
export function list<T>(read: (text: string) => T): (text: string) => T[] {
  return (text) => {
    const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
    if (!parts.length) throw new InvalidArgumentError('Expected a comma-separated list of at least one value.');
    return parts.map((p) => {
      try {
        return read(p);
      } catch (err) {
        throw new InvalidArgumentError(`'${p}': ${(err as Error).message}`);
      }
    });
  };
}

/** A variadic argument's parser (commander passes what the earlier values gave): each value read by `read`. */
export function each<T>(read: (text: string) => T): (text: string, previous?: T[]) => T[] {
  return (text, previous = []) => [...previous, read(text)];
}

/** One of a fixed set of names. */
export function oneOf<const T extends string>(values: readonly T[]): (text: string) => T {
  return text(z.enum(values as unknown as [T, ...T[]]));
}

/** A path that must exist, as a file, a folder or either (the config, dataset, run or store a command reads), named as `what` in the error. */
function existing(kind: 'file' | 'folder' | 'any', what: string): (text: string) => string {
  return (text) => {
    if (!existsSync(text)) throw new InvalidArgumentError(kind === 'any' ? `It does not exist (expected ${what}).` : `No such ${kind} (expected ${what}).`);
    const isFolder = statSync(text).isDirectory();
    if (kind === 'file' && isFolder) throw new InvalidArgumentError(`It is a folder (expected ${what}, a file).`);
    if (kind === 'folder' && !isFolder) throw new InvalidArgumentError(`It is a file (expected ${what}, a folder).`);
    return text;
  };
}

export const existingFile = (what: string) => existing('file', what);
export const existingDir = (what: string) => existing('folder', what);
export const existingPath = (what: string) => existing('any', what);

export const seedNumber = number(z.number().int().nonnegative());
export const countNumber = number(z.number().int().nonnegative());
export const positiveNumber = number(z.number().int().positive());

/** The runs folder a command uses: its --runs, else the home's (util/paths.ts). */
export const runsFolder = (flag: string | undefined): string => flag ?? runsDir();

/** One meaning of --runs everywhere: the runs folder (run folders, and the caches of built stores, worlds and vectors). */
export const RUNS_FLAG = ['--runs <dir>', 'the runs folder: run folders, and the cached worlds, stores and vectors they are built from (default: runs/ in the home folder, see --home)'] as const;

/**
 * A command at its place in the tree (`mmctr pretrain text`), and under its old name for one
 * release (`mmctr pretrain-text`: hidden from help, with a note saying the new name).
 */
export function commandWithAlias(parent: Command, name: string, oldName: string, define: (command: Command) => void): void {
  define(parent.command(name));
  const root = parent.parent ?? parent;
  const old = root.command(oldName, { hidden: true });
  define(old);
  old.hook('preAction', () => console.error(`mmctr: \`mmctr ${oldName}\` is now \`mmctr ${parent.name()} ${name}\`; the old name goes in the next release`));
}
