// Builds the native kernels with node-gyp against the headers of the running Node.js, so that no
// header download is ever attempted (the machines reach only the npm and Debian registries).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const nodeRoot = path.resolve(path.dirname(process.execPath), '..');
const env = { ...process.env };
if (!env.npm_config_nodedir && existsSync(path.join(nodeRoot, 'include', 'node', 'node_api.h'))) {
  env.npm_config_nodedir = nodeRoot;
}
let gyp;
try {
  gyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  gyp = path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
}
const result = spawnSync(process.execPath, [gyp, 'rebuild'], { stdio: 'inherit', env });
if (result.status !== 0) {
  console.error('mmctr: building the native kernels failed. Needs g++, make and python3; OpenBLAS (Debian libopenblas-dev) is optional.');
  process.exit(result.status ?? 1);
}
