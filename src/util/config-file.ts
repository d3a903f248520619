/**
 * Typed configuration at the boundary: one zod schema per config; a file that does not match
 * gets a ConfigError listing every bad field by its path.
 */
import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError } from './errors.js';

/** Turns zod issues into lines that name the field path. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
}

/** A config without its top-level `$schema` (the editor's pointer at schemas/<kind>.schema.json), which every kind accepts. */
function withoutSchemaPointer(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || !('$schema' in raw)) return raw;
  const { $schema: _pointer, ...rest } = raw as Record<string, unknown>;
  return rest;
}

/** A config checked against a schema, without throwing (the `$schema` pointer left out). */
export function safeParseConfig<S extends z.ZodType>(schema: S, raw: unknown): z.ZodSafeParseResult<z.infer<S>> {
  return schema.safeParse(withoutSchemaPointer(raw)) as z.ZodSafeParseResult<z.infer<S>>;
}

/** Validates an object against a schema (defaults filled in); `source` names it in errors. */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, source: string): z.infer<S> {
  const parsed = safeParseConfig(schema, raw);
  if (!parsed.success) throw new ConfigError(source, describeIssues(parsed.error));
  return parsed.data;
}

/** Reads a JSON file as it is, not yet validated (a ConfigError when missing or not JSON). */
export function readJsonFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(file, [e.code === 'ENOENT' ? 'does not exist' : `cannot read it as JSON: ${e.message}`]);
  }
}

/** Reads a JSON file and validates it against a schema. */
export function readConfigFile<S extends z.ZodType>(schema: S, file: string): z.infer<S> {
  return parseConfig(schema, readJsonFile(file), file);
}
