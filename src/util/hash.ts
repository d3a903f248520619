/** String hashing shared by the stages that derive seeds or buckets from names and keys. */

export const FNV_OFFSET_BASIS = 0x811c9dc5;

/** 32-bit FNV-1a over the string's UTF-16 code units; `basis` lets callers salt it. */
export function fnv1aCodeUnits(s: string, basis = FNV_OFFSET_BASIS): number {
  let h = basis >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
