/**
 * The command line never takes a bad value: every value read at the boundary by the schema of
 * the config field it overrides, exit code 2 with the flag and the value named; one command tree
 * (old names kept as aliases); one meaning per flag. One test per message a user met.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { z } from 'zod';
import { each, list, number, oneOf, seedNumber } from '../../src/cli/options.js';
import { repoRoot } from '../../src/util/paths.js';
import { tempDir } from '../data/helpers.js';
import { mmctr, mmctrWith } from './helpers.js';

const config = path.join(repoRoot(), 'configs', 'movielens-din.json');

/** A usage error: exit 2, the message names the flag and the value, no stack trace. */
function refused(r: { code: number | null; err: string }, flag: string, value: string, expected: RegExp): void {
  assert.equal(r.code, 2, r.err);
  assert.ok(r.err.includes(`'${flag}`) && r.err.includes(`'${value}'`), `names ${flag} and '${value}': ${r.err}`);
  assert.match(r.err, expected);
  assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
}

test('flag parsers read values by their schema: numbers must be number literals, ranges and enums as the config says', () => {
  const epochs = number(z.number().int().positive());
  assert.equal(epochs('3'), 3);
  for (const bad of ['abc', '', '3x', 'NaN']) assert.throws(() => epochs(bad), (e: Error) => e instanceof InvalidArgumentError && /Expected a number\./.test(e.message), bad);
  assert.throws(() => epochs('-3'), /Expected a number > 0\./);
  assert.throws(() => epochs('1.5'), /Expected an integer\./);
  assert.throws(() => number(z.number().max(1))('2'), /Expected a number <= 1\./);
  assert.deepEqual(list(seedNumber)('1, 2,3'), [1, 2, 3]);
  assert.throws(() => list(seedNumber)('1,x'), /'x': Expected a number\./);
  assert.throws(() => list(seedNumber)(','), /at least one value/);
  assert.equal(oneOf(['best', 'last'])('last'), 'last');
  assert.throws(() => oneOf(['best', 'last'])('first'), /Expected one of best, last\./);
  assert.deepEqual(['a', 'b'].reduce<('a' | 'b')[] | undefined>((prev, v) => each(oneOf(['a', 'b']))(v, prev), undefined), ['a', 'b']);
});

test('train --epochs abc / -3 and --seeds x are refused before anything is built (exit 2, flag and value named)', () => {
  const cwd = tempDir('mmctr-cli-usage-');
  refused(mmctrWith({ cwd }, 'train', config, '--epochs', 'abc'), '--epochs', 'abc', /Expected a number\./);
  refused(mmctrWith({ cwd }, 'train', config, '--epochs', '-3'), '--epochs', '-3', /Expected a number > 0\./);
  refused(mmctrWith({ cwd }, 'train', config, '--seeds', 'x'), '--seeds', 'x', /'x': Expected a number\./);
  refused(mmctrWith({ cwd }, 'train', config, '--keep', 'first'), '--keep', 'first', /Expected one of best, last\./);
  refused(mmctrWith({ cwd }, 'evaluate', cwd, '--split', 'dev'), '--split', 'dev', /Expected one of train, valid, test\./);
  assert.deepEqual(readdirSync(cwd), [], 'no run folder, no store was written');
});

test('train nonexist.json names the file and what it should be', () => {
  const r = mmctr('train', 'nonexist.json');
  assert.equal(r.code, 2);
  assert.match(r.err, /^mmctr: command-argument value 'nonexist\.json' is invalid for argument 'config'\. No such file \(expected an experiment config \(JSON\)\)\./);
});

test('train with the shared data absent says how to point at it, not a flag train does not have', () => {
  const r = mmctrWith({ env: { MMCTR_SHARED_DATA: path.join(tempDir('mmctr-cli-usage-'), 'none') } }, 'train', config, '--runs', tempDir('mmctr-cli-usage-'));
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /the built-in 'movielens' data is read from the shared data folder \(set MMCTR_SHARED_DATA/);
  assert.match(r.err, /mmctr data prepare movielens --src <folder>/);
  assert.doesNotMatch(r.err, /give the source folder with --src\)/);
});

test('serve refuses conflicting flags and bad values before it builds anything', () => {
  const cwd = tempDir('mmctr-cli-usage-');
  const conflict = mmctrWith({ cwd }, 'serve', '--redis', 'redis://127.0.0.1:1', '--memory');
  assert.equal(conflict.code, 2);
  assert.match(conflict.err, /option '--memory' cannot be used with option '--redis <url>'/);
  const index = mmctrWith({ cwd }, 'serve', '--index', 'x.safetensors', '--memory');
  assert.equal(index.code, 2);
  assert.match(index.err, /option '--index <file>' cannot be used with option '--memory'/);
  refused(mmctrWith({ cwd }, 'serve', '--port', '70000'), '--port', '70000', /Expected a number <= 65535\./);
  refused(mmctrWith({ cwd }, 'serve', '--precision', 'f16'), '--precision', 'f16', /Expected one of float32, int8\./);
  refused(mmctrWith({ cwd }, 'serve', '--fsync', 'sometimes'), '--fsync', 'sometimes', /Expected one of /);
  const worker = mmctrWith({ cwd }, 'serve', '--role', 'worker');
  assert.equal(worker.code, 2);
  assert.match(worker.err, /--role worker drains a shared queue: give --redis <url>/);
  assert.deepEqual(readdirSync(cwd), [], 'nothing was built');
});

test('world generate and experiment paper read their values by the same schemas', () => {
  const cwd = tempDir('mmctr-cli-usage-');
  refused(mmctrWith({ cwd }, 'world', 'generate', '--out', 'w', '--users', '0'), '--users', '0', /Expected a number > 0\./);
  refused(mmctrWith({ cwd }, 'world', 'generate', '--out', 'w', '--new-items', '0.95'), '--new-items', '0.95', /Expected a number <= 0\.9\./);
  const paper = path.join(repoRoot(), 'configs', 'paper-movielens.json');
  refused(mmctrWith({ cwd }, 'experiment', 'paper', paper, '--variants', 'id,nope'), '--variants', 'id,nope', /'nope': Expected one of id, /);
  refused(mmctrWith({ cwd }, 'experiment', 'paper', paper, '--curve-epochs', '-1'), '--curve-epochs', '-1', /Expected a number >= 0\./);
  assert.deepEqual(readdirSync(cwd), []);
});

test('mmctr --version prints the package version', () => {
  const r = mmctr('--version');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out.trim(), JSON.parse(readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')).version);
});

test('one command tree: pretrain embed / pretrain text; the old names still run, saying the new one', () => {
  const help = mmctr('pretrain', '--help').out;
  assert.match(help, /\n {2}embed \[options\] <model>/);
  assert.match(help, /\n {2}text \[options\] <input>/);
  const top = mmctr('--help').out;
  assert.doesNotMatch(top, /\n {2}(embed|pretrain-text) /, 'the old names are hidden from help');
  const notAStore = tempDir('mmctr-cli-usage-');
  const old = mmctr('pretrain-text', notAStore, '--out', path.join(notAStore, 'v.safetensors'));
  assert.equal(old.code, 1, old.err);
  assert.match(old.err, /`mmctr pretrain-text` is now `mmctr pretrain text`/);
  assert.match(old.err, /is a folder but not a sample store/);
});

test('--runs means one thing in every command that has it', () => {
  const lines = [['train'], ['experiment', 'paper'], ['pretrain', 'text']].map((cmd) => {
    const help = mmctr(...cmd, '--help').out.replace(/\n {6,}(?!-)/g, ' '); // wrapped description lines joined
    const line = help.split('\n').find((l) => l.trimStart().startsWith('--runs <dir>'));
    assert.ok(line, `${cmd.join(' ')} has --runs`);
    return line!.trim().replace(/\s+/g, ' ');
  });
  assert.equal(new Set(lines).size, 1, lines.join('\n'));
});
