/** Fixed-size sets of small integers (campaign positions) as 32-bit words: OR and AND per word. */
export type Bitset = Uint32Array;

export function newBitset(size: number): Bitset {
  return new Uint32Array(Math.ceil(size / 32));
}

export function setBit(b: Bitset, i: number): void {
  const w = i >>> 5;
  b[w] = (b[w] as number) | (1 << (i & 31));
}

export function orInto(target: Bitset, source: Bitset): void {
  for (let w = 0; w < target.length; w++) target[w] = (target[w] as number) | (source[w] as number);
}

export function andInto(target: Bitset, source: Bitset): void {
  for (let w = 0; w < target.length; w++) target[w] = (target[w] as number) & (source[w] as number);
}

/** Calls `visit` with every member, ascending. */
export function forEachBit(b: Bitset, visit: (i: number) => void): void {
  for (let w = 0; w < b.length; w++) {
    let word = b[w]!;
    while (word !== 0) {
      // The lowest set bit: its position is 31 minus the leading zeros of the isolated bit.
      const low = word & -word;
      visit(w * 32 + 31 - Math.clz32(low));
      word ^= low;
    }
  }
}
