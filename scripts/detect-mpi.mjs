// binding.gyp reads this: `have` prints 1 when Open MPI's compiler wrapper (Debian libopenmpi-dev)
// is present, else 0; `cflags` / `libs` print its flags (nothing without it). MMCTR_MPI=off skips it.
import { spawnSync } from 'node:child_process';
const ask = (what) => {
  if (process.env.MMCTR_MPI === 'off') return null;
  const r = spawnSync('mpicxx', [`--showme:${what}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
};
const mode = process.argv[2] ?? 'have';
const compile = ask('compile'), link = ask('link');
if (mode === 'have') console.log(compile !== null && link !== null ? 1 : 0);
else if (mode === 'cflags') console.log(compile ?? '');
else if (mode === 'libs') console.log(link ?? '');
