/**
 * A set of event ids for deduplication, answering has/add/delete as a Set<string> does (no
 * iteration). Open addressing with linear probing over one Int32Array that holds each entry's
 * index and hash side by side, so testing an id that is not there (the common case) reads one
 * cache line and never touches a stored string. A JS Set of a million short ids spends most of a
 * microsecond per lookup walking its chains through scattered strings.
 *
 * Short ASCII ids (up to 8 characters, as a simulator's or a counter's ids are) are kept packed
 * in two int32s instead of as strings: a day of a million ids then holds no strings for the
 * garbage collector to trace and move.
 */
export class EventIdSet {
  private mask: number;
  /** Pairs [entry index + 1 (0 = empty), hash] per table position. */
  private table: Int32Array;
  /** Per entry: the id when stored as a string, else undefined. */
  private readonly keys: (string | undefined)[] = [];
  /** Per entry: a packed id (7 bits a character, the length in the top bits of hi), else 0, 0. */
  private packLo: Int32Array;
  private packHi: Int32Array;
  private readonly freeEntries: number[] = [];
  /** The packed form of the id being looked up, when `pack` returned true. */
  private qLo = 0;
  private qHi = 0;
  size = 0;

  constructor(initialCapacity = 64) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.mask = cap - 1;
    this.table = new Int32Array(cap * 2);
    this.packLo = new Int32Array(cap);
    this.packHi = new Int32Array(cap);
  }

  private static hash(s: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return h ^ (h >>> 12);
  }

  /** Packs `id` into qLo/qHi; false when it is too long or not ASCII (then it is kept as a string). */
  private pack(id: string): boolean {
    const n = id.length;
    if (n === 0 || n > 8) return false;
    let lo = 0;
    let hi = n << 28;
    for (let i = 0; i < n; i++) {
      const ch = id.charCodeAt(i);
      if (ch >= 128) return false;
      if (i < 4) lo |= ch << (7 * i);
      else hi |= ch << (7 * (i - 4));
    }
    this.qLo = lo;
    this.qHi = hi;
    return true;
  }

  /** Table position holding `id` (packed into qLo/qHi when `packed`), or -1. */
  private find(id: string, h: number, packed: boolean): number {
    const table = this.table;
    const mask = this.mask;
    for (let p = h & mask; ; p = (p + 1) & mask) {
      const e = table[2 * p]!;
      if (e === 0) return -1;
      if (table[2 * p + 1] !== h) continue;
      if (
        packed ? this.packHi[e - 1] === this.qHi && this.packLo[e - 1] === this.qLo : this.keys[e - 1] === id
      )
        return p;
    }
  }

  has(id: string): boolean {
    return this.find(id, EventIdSet.hash(id), this.pack(id)) >= 0;
  }

  add(id: string): this {
    this.addIfAbsent(id);
    return this;
  }

  /** Adds `id`; false when it was there already. One hash and one probe, where has + add take two. */
  addIfAbsent(id: string): boolean {
    const h = EventIdSet.hash(id);
    const packed = this.pack(id);
    if (this.find(id, h, packed) >= 0) return false;
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    let e: number;
    if (this.freeEntries.length > 0) {
      e = this.freeEntries.pop()!;
    } else {
      e = this.keys.length;
      this.keys.push(undefined);
    }
    if (packed) {
      this.packLo[e] = this.qLo;
      this.packHi[e] = this.qHi;
    } else {
      this.keys[e] = id;
    }
    this.place(e, h);
    this.size++;
    return true;
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
    let p = this.find(id, h, this.pack(id));
    if (p < 0) return false;
    const table = this.table;
    const mask = this.mask;
    const e = table[2 * p]! - 1;
    this.keys[e] = undefined;
    this.packLo[e] = 0;
    this.packHi[e] = 0;
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
    // Entries never outnumber half the table, so the packed arrays grow with it.
    const lo = new Int32Array(oldCap * 2);
    lo.set(this.packLo);
    this.packLo = lo;
    const hi = new Int32Array(oldCap * 2);
    hi.set(this.packHi);
    this.packHi = hi;
  }
}
