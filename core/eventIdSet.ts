/**
 * A set of event ids for deduplication, answering has/add/delete as a Set<string> does (no
 * iteration). Open addressing with linear probing over one Int32Array that holds each entry's
 * index and hash side by side, so testing an id that is not there (the common case) reads one
 * cache line and never touches a stored string. A JS Set of a million short ids spends most of a
 * microsecond per lookup walking its chains through scattered strings.
 */
export class EventIdSet {
  private mask: number;
  /** Pairs [entry index + 1 (0 = empty), hash] per table position. */
  private table: Int32Array;
  private readonly keys: (string | undefined)[] = [];
  private readonly freeEntries: number[] = [];
  size = 0;

  constructor(initialCapacity = 64) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.mask = cap - 1;
    this.table = new Int32Array(cap * 2);
  }

  private static hash(s: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return h ^ (h >>> 12);
  }

  /** Table position holding `id`, or -1. */
  private find(id: string, h: number): number {
    const table = this.table;
    const mask = this.mask;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const e = table[2 * p]!;
      if (e === 0) return -1;
      if (table[2 * p + 1] === h && this.keys[e - 1] === id) return p;
    }
  }

  has(id: string): boolean {
    return this.find(id, EventIdSet.hash(id)) >= 0;
  }

  add(id: string): this {
    const h = EventIdSet.hash(id);
    if (this.find(id, h) >= 0) return this;
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    let e: number;
    if (this.freeEntries.length > 0) {
      e = this.freeEntries.pop()!;
      this.keys[e] = id;
    } else {
      e = this.keys.length;
      this.keys.push(id);
    }
    this.place(e, h);
    this.size++;
    return this;
  }

  private place(e: number, h: number): void {
    const table = this.table;
    const mask = this.mask;
    let p = h & mask;
    while (table[2 * p] !== 0) p = (p + 1) & mask;
    table[2 * p] = e + 1;
    table[2 * p + 1] = h;
  }

  delete(id: string): boolean {
    const h = EventIdSet.hash(id);
    let p = this.find(id, h);
    if (p < 0) return false;
    const table = this.table;
    const mask = this.mask;
    const e = table[2 * p]! - 1;
    this.keys[e] = undefined;
    this.freeEntries.push(e);
    this.size--;
    // Backward-shift deletion: pull later entries of the probe run into the gap, so probes never
    // stop early at a hole.
    table[2 * p] = 0;
    for (let q = (p + 1) & mask; table[2 * q] !== 0; q = (q + 1) & mask) {
      const home = table[2 * q + 1]! & mask;
      // The entry at q may move back to p unless its home lies cyclically in (p, q].
      const stays = p <= q ? home > p && home <= q : home > p || home <= q;
      if (!stays) {
        table[2 * p] = table[2 * q]!;
        table[2 * p + 1] = table[2 * q + 1]!;
        table[2 * q] = 0;
        p = q;
      }
    }
    return true;
  }

  private grow(): void {
    const old = this.table;
    const oldCap = this.mask + 1;
    this.mask = oldCap * 2 - 1;
    this.table = new Int32Array(oldCap * 4);
    for (let p = 0; p < oldCap; p++) {
      const e = old[2 * p]!;
      if (e !== 0) this.place(e - 1, old[2 * p + 1]!);
    }
  }
}
