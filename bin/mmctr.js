#!/usr/bin/env node
// The `mmctr` command: runs the compiled CLI (dist/: the package carries it; in a clone, npm ci builds it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));
if (!existsSync(main)) {
  console.error('mmctr: the TypeScript build is missing (dist/). Run `npm ci` or `npm run build` in the mmctr folder.');
  process.exit(1);
}
await import(main);
