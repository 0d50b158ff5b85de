/**
 * A binary min-heap of timestamped events held in preallocated typed arrays: pushing and popping
 * allocate nothing (capacity doubles when full, amortised). Ties on time pop in insertion order,
 * so a run is deterministic. An event is a slot whose fields the caller reads after `pop`.
 */
export const EVENT_KINDS = {
  winNotice: 1,
  sync: 2,
  minute: 3,
  outageStart: 4,
  outageEnd: 5,
  dayEnd: 6,
  reconcileCheck: 7,
  instanceDown: 8,
  instanceUp: 9,
  storeReply: 10,
} as const;
export type EventKind = (typeof EVENT_KINDS)[keyof typeof EVENT_KINDS];

export class EventQueue {
  time: Float64Array;
  private seq: Float64Array;
  kind: Uint8Array;
  /** Payload: instance, campaign, amounts and the time a reservation was made. */
  instance: Int32Array;
  campaign: Int32Array;
  spendMicros: Float64Array;
  reservedMicros: Float64Array;
  reservedAtMs: Float64Array;
  private heap: Int32Array;
  private free: Int32Array;
  private freeCount: number;
  size = 0;
  private nextSeq = 0;

  constructor(capacity = 1024) {
    this.time = new Float64Array(capacity);
    this.seq = new Float64Array(capacity);
    this.kind = new Uint8Array(capacity);
    this.instance = new Int32Array(capacity);
    this.campaign = new Int32Array(capacity);
    this.spendMicros = new Float64Array(capacity);
    this.reservedMicros = new Float64Array(capacity);
    this.reservedAtMs = new Float64Array(capacity);
    this.heap = new Int32Array(capacity);
    this.free = new Int32Array(capacity);
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeCount = capacity;
  }

  private grow(): void {
    const old = this.time.length;
    const cap = old * 2;
    const g = <T extends Float64Array | Int32Array | Uint8Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(cap);
      b.set(a);
      return b;
    };
    this.time = g(this.time);
    this.seq = g(this.seq);
    this.kind = g(this.kind);
    this.instance = g(this.instance);
    this.campaign = g(this.campaign);
    this.spendMicros = g(this.spendMicros);
    this.reservedMicros = g(this.reservedMicros);
    this.reservedAtMs = g(this.reservedAtMs);
    this.heap = g(this.heap);
    this.free = new Int32Array(cap);
    for (let i = 0; i < old; i++) this.free[i] = cap - 1 - i;
    this.freeCount = old;
  }

  private less(a: number, b: number): boolean {
    const ta = this.time[a]!;
    const tb = this.time[b]!;
    return ta < tb || (ta === tb && this.seq[a]! < this.seq[b]!);
  }

  /** Schedules an event and returns its slot, whose payload fields the caller may then set. */
  push(timeMs: number, kind: EventKind): number {
    if (this.freeCount === 0) this.grow();
    const slot = this.free[--this.freeCount]!;
    this.time[slot] = timeMs;
    this.seq[slot] = this.nextSeq++;
    this.kind[slot] = kind;
    const heap = this.heap;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!this.less(slot, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = slot;
    return slot;
  }

  /** Time of the earliest event, Infinity when empty. */
  peekTime(): number {
    return this.size > 0 ? this.time[this.heap[0]!]! : Number.POSITIVE_INFINITY;
  }

  /** Removes the earliest event and returns its slot; the slot stays readable until the next push. */
  pop(): number {
    const heap = this.heap;
    const top = heap[0]!;
    const last = heap[--this.size]!;
    const n = this.size;
    let i = 0;
    if (n > 0) {
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && this.less(heap[r]!, heap[l]!) ? r : l;
        if (!this.less(heap[c]!, last)) break;
        heap[i] = heap[c]!;
        i = c;
      }
      heap[i] = last;
    }
    this.free[this.freeCount++] = top;
    return top;
  }
}
