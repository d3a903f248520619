// Prints 1 when OpenBLAS's CBLAS header and library are present, else 0 (binding.gyp reads it).
import { existsSync } from 'node:fs';
const forced = process.env.MMCTR_BLAS;
if (forced === 'builtin') { console.log(0); process.exit(0); }
const headers = ['/usr/include/x86_64-linux-gnu/cblas.h', '/usr/include/aarch64-linux-gnu/cblas.h', '/usr/include/cblas.h', '/usr/include/openblas/cblas.h'];
const libs = ['/usr/lib/x86_64-linux-gnu/libopenblas.so', '/usr/lib/aarch64-linux-gnu/libopenblas.so', '/usr/lib/libopenblas.so', '/usr/lib64/libopenblas.so'];
console.log(headers.some(existsSync) && libs.some(existsSync) ? 1 : 0);
