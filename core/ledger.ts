import { type DayWindow, MAX_HOURS_PER_DAY, dayWindowAt, hourIndex } from './dayWindow';

/**
 * One instance's spend ledger for one campaign. Own spend is exact; spend made by other
 * instances sharing the budget arrives from the store as `peerDaySpentMicros`.
 * In-flight exposure (bids allowed but not yet settled) is held in time buckets of a ring, so
 * reserving, settling and expiring never allocate. A bucket is one second wide, or TTL/24 rounded
 * down to whole seconds when that is wider (5 s for the default 120 s TTL): a bucket expires once
 * its newest possible reservation is TTL old, so a reservation is held between TTL and
 * TTL + one bucket (at most ~4% longer than the TTL, never shorter). Coarser buckets keep the
 * ring at 26 slots instead of 122: 10,000 campaigns hold 4 MB of ring instead of 20 MB.
 */
export interface Ledger {
  readonly timeZone: string;
  day: DayWindow;
  /** Spend this instance recorded today. */
  ownDaySpentMicros: number;
  /** Today's spend of the other instances, as last read from the shared store. */
  peerDaySpentMicros: number;
  /** Own spend per elapsed hour of today (25 buckets for the long DST day). */
  readonly hourSpentMicros: Float64Array;
  /** Own spend across all days, and the campaign's spend before this ledger started (from the store). */
  ownTotalSpentMicros: number;
  priorTotalSpentMicros: number;
  /** Bids allowed but not yet settled, including `pinnedMicros`. */
  reservedMicros: number;
  /**
   * Exposure of wins whose notice was refused (neither stored nor journaled): the exchange spent
   * that money, so it stays committed, outside the expiring ring, until the notice is retried and
   * booked. Part of `reservedMicros`.
   */
  pinnedMicros: number;
  readonly reservationTtlMs: number;
  /** Width of one ring bucket in ms (a whole number of seconds). */
  readonly bucketMs: number;
  readonly ring: Float64Array;
  /** The bucket number (floor(ms / bucketMs)) each slot holds, -1 when empty. */
  readonly ringBucket: Float64Array;
  /** Oldest bucket that may still hold a live reservation. */
  ringTailBucket: number;
  /** Closed days, newest last: what this instance spent each day. Bounded by `historyDays`. */
  readonly closedDays: { key: string; ownSpentMicros: number }[];
  readonly historyDays: number;
}

export interface LedgerOptions {
  reservationTtlMs: number;
  historyDays?: number;
  priorTotalSpentMicros?: number;
}

/** Ring bucket width for a reservation TTL: 1 s, or TTL/24 in whole seconds when wider. */
export function reservationBucketMs(reservationTtlMs: number): number {
  return Math.max(1000, Math.floor(reservationTtlMs / 24 / 1000) * 1000);
}

export function createLedger(timeZone: string, nowMs: number, opts: LedgerOptions): Ledger {
  const bucketMs = reservationBucketMs(opts.reservationTtlMs);
  const slots = Math.max(2, Math.ceil(opts.reservationTtlMs / bucketMs) + 2);
  const ringBucket = new Float64Array(slots).fill(-1);
  return {
    timeZone,
    day: dayWindowAt(timeZone, nowMs),
    ownDaySpentMicros: 0,
    peerDaySpentMicros: 0,
    hourSpentMicros: new Float64Array(MAX_HOURS_PER_DAY),
    ownTotalSpentMicros: 0,
    priorTotalSpentMicros: opts.priorTotalSpentMicros ?? 0,
    reservedMicros: 0,
    pinnedMicros: 0,
    reservationTtlMs: opts.reservationTtlMs,
    bucketMs,
    ring: new Float64Array(slots),
    ringBucket,
    ringTailBucket: Math.floor(nowMs / bucketMs),
    closedDays: [],
    historyDays: opts.historyDays ?? 62,
  };
}

/** Today's spend of the whole campaign as this instance knows it. */
export function daySpentMicros(l: Ledger): number {
  return l.ownDaySpentMicros + l.peerDaySpentMicros;
}

/** Spend plus in-flight exposure: what the budget must cover in the worst case. */
export function dayCommittedMicros(l: Ledger): number {
  return l.ownDaySpentMicros + l.peerDaySpentMicros + l.reservedMicros;
}

export function totalSpentMicros(l: Ledger): number {
  return l.priorTotalSpentMicros + l.ownTotalSpentMicros;
}

/**
 * Moves the ledger to the day containing `nowMs` if midnight has passed. Returns true on roll-over.
 * Reservations survive the roll-over: a bid made before midnight still costs money when it settles.
 */
export function rollDay(l: Ledger, nowMs: number): boolean {
  // Time never runs backwards here; an instant before today's start is booked into today.
  if (nowMs < l.day.endMs) return false;
  l.closedDays.push({ key: l.day.key, ownSpentMicros: l.ownDaySpentMicros });
  if (l.closedDays.length > l.historyDays) l.closedDays.shift();
  l.day = dayWindowAt(l.timeZone, nowMs);
  l.ownDaySpentMicros = 0;
  // What the other instances spent on the closed day now counts before today (total budget).
  l.priorTotalSpentMicros += l.peerDaySpentMicros;
  l.peerDaySpentMicros = 0;
  l.hourSpentMicros.fill(0);
  return true;
}

/** Releases reservations older than the TTL: their bids lost or their notices are overdue. */
export function expireReservations(l: Ledger, nowMs: number): void {
  const oldestLive = Math.floor((nowMs - l.reservationTtlMs) / l.bucketMs);
  if (oldestLive <= l.ringTailBucket) return;
  const size = l.ring.length;
  if (oldestLive - l.ringTailBucket >= size) {
    // A gap of a lap or more: every slot may be stale, whatever bucket it holds.
    for (let slot = 0; slot < size; slot++) {
      const b = l.ringBucket[slot]!;
      if (b >= 0 && b < oldestLive) expireSlot(l, slot);
    }
  } else {
    for (let b = l.ringTailBucket; b < oldestLive; b++) {
      const slot = b % size;
      if (l.ringBucket[slot] === b) expireSlot(l, slot);
    }
  }
  l.ringTailBucket = oldestLive;
  if (l.reservedMicros - l.pinnedMicros < 0.5) l.reservedMicros = l.pinnedMicros;
}

function expireSlot(l: Ledger, slot: number): void {
  l.reservedMicros -= l.ring[slot]!;
  l.ring[slot] = 0;
  l.ringBucket[slot] = -1;
}

export function reserve(l: Ledger, micros: number, nowMs: number): void {
  const b = Math.floor(nowMs / l.bucketMs);
  const slot = b % l.ring.length;
  if (l.ringBucket[slot] !== b) {
    // The slot holds a bucket a whole lap old, past the TTL: release it now if nobody has yet.
    if (l.ringBucket[slot]! >= 0) l.reservedMicros -= l.ring[slot]!;
    l.ring[slot] = 0;
    l.ringBucket[slot] = b;
  }
  l.ring[slot] = l.ring[slot]! + micros;
  l.reservedMicros += micros;
}

/**
 * Releases (part of) a reservation made at `reservedAtMs`. Returns what was actually released:
 * zero when the reservation already expired, so nothing is ever released twice.
 */
export function release(l: Ledger, micros: number, reservedAtMs: number): number {
  const b = Math.floor(reservedAtMs / l.bucketMs);
  if (b < l.ringTailBucket) return 0;
  const slot = b % l.ring.length;
  if (l.ringBucket[slot] !== b) return 0;
  const held = l.ring[slot]!;
  const freed = micros < held ? micros : held;
  l.ring[slot] = held - freed;
  l.reservedMicros -= freed;
  return freed;
}

/** Holds the exposure of a refused win notice until `unpin` (see `pinnedMicros`). */
export function pin(l: Ledger, micros: number): void {
  l.pinnedMicros += micros;
  l.reservedMicros += micros;
}

/** Releases exposure pinned for a refused notice, now booked as spend; returns what was released. */
export function unpin(l: Ledger, micros: number): number {
  const freed = micros < l.pinnedMicros ? micros : l.pinnedMicros;
  l.pinnedMicros -= freed;
  l.reservedMicros -= freed;
  return freed;
}

/** Books spend into today's day and hour buckets (rolling the day first). */
export function bookSpend(l: Ledger, spendMicros: number, nowMs: number): void {
  rollDay(l, nowMs);
  l.ownDaySpentMicros += spendMicros;
  const h = hourIndex(l.day, nowMs);
  l.hourSpentMicros[h] = l.hourSpentMicros[h]! + spendMicros;
  l.ownTotalSpentMicros += spendMicros;
}

/**
 * Takes back spend booked locally that the store refused as a duplicate (the same event id was
 * counted elsewhere first). Only today's buckets can be corrected; older days keep their total.
 */
export function unbookSpend(l: Ledger, spendMicros: number, dayKey: string, hour: number): void {
  l.ownTotalSpentMicros -= spendMicros;
  if (dayKey === l.day.key) {
    l.ownDaySpentMicros -= spendMicros;
    l.hourSpentMicros[hour] = l.hourSpentMicros[hour]! - spendMicros;
    return;
  }
  const closed = l.closedDays.find((d) => d.key === dayKey);
  if (closed) closed.ownSpentMicros -= spendMicros;
}
