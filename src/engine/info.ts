/** One line of truth about the active compute backend, for `doctor` and training logs. */
import { native } from './native.js';

export interface EngineInfo {
  blas: 'openblas' | 'builtin';
  blasCompiled: 'openblas' | 'builtin';
  blasConfig: string;
  threads: number;
}

export function engineInfo(): EngineInfo {
  const b = native.blasInfo();
  return { blas: b.active, blasCompiled: b.compiled, blasConfig: b.config, threads: b.threads };
}

export function engineSummary(): string {
  const e = engineInfo();
  return `engine: GEMM ${e.blas}${e.blas === 'openblas' ? ` (${e.blasConfig.split(' ').slice(0, 2).join(' ')})` : ' (built-in fallback)'}, ${e.threads} threads`;
}
