/**
 * The catalogue's image files as `data check` (and every reader of a dataset) sees them: each
 * item's image path resolved against imageRoot, then checked for being there and readable as an
 * image (its header decoded by sharp, the library the encoders decode with). Image names can be
 * made from the item id by the spec's items.imagePattern ("{item_id:010d}.jpg").
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { sqlString } from './duck.js';
import { IMAGE_PATTERN_FIELD } from './spec.js';

export type ImageProblem = 'missing' | 'unreadable';

/** SQL text of each item's image name from `pattern`, with `id` the SQL expression of its id. */
export function imagePatternSql(pattern: string, id: string): string {
  const parts = pattern.split(new RegExp(`(${IMAGE_PATTERN_FIELD.source})`, 'g'));
  // split with a capturing group: [literal, field, width, literal, field, width, ...]
  const sql: string[] = [];
  for (let i = 0; i < parts.length; i += 3) {
    if (parts[i]) sql.push(sqlString(parts[i]));
    if (i + 1 >= parts.length) break;
    const width = parts[i + 2] ? Number(parts[i + 2]) : 0;
    sql.push(width ? `CASE WHEN length(${id}) >= ${width} THEN ${id} ELSE lpad(${id}, ${width}, '0') END` : id);
  }
  return `CASE WHEN ${id} IS NULL THEN NULL ELSE concat(${sql.join(', ')}) END`;
}

/** Why each image cannot be used (null: fine), for paths resolved against `root`; `concurrency` files at a time. */
export async function imageProblems(images: readonly string[], root: string, concurrency = 16): Promise<(ImageProblem | null)[]> {
  const sharp = (await import('sharp')).default;
  const out: (ImageProblem | null)[] = new Array(images.length).fill(null);
  let next = 0;
  const worker = async () => {
    while (next < images.length) {
      const i = next++;
      const file = path.resolve(root, images[i]);
      let isFile = false;
      try {
        isFile = statSync(file).isFile();
      } catch {
        out[i] = 'missing';
        continue;
      }
      if (!isFile) out[i] = 'unreadable';
      else
        try {
          const meta = await sharp(file).metadata();
          if (!meta.width || !meta.height) out[i] = 'unreadable';
        } catch {
          out[i] = 'unreadable';
        }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, images.length) }, worker));
  return out;
}
