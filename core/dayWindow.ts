/**
 * The campaign's day: local midnight to local midnight in its IANA time zone. DST days are 23 or
 * 25 hours long; hour buckets are elapsed hours since local midnight (0..24), so no hour is
 * counted twice or lost on those days. Intl is pure computation (no clock, no I/O).
 */
export interface DayWindow {
  /** Local calendar date, YYYY-MM-DD. */
  readonly key: string;
  readonly startMs: number;
  readonly endMs: number;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** Hour buckets per day: 25 covers the long DST day. */
export const MAX_HOURS_PER_DAY = 25;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

export function isValidTimeZone(timeZone: string): boolean {
  if (typeof timeZone !== 'string' || timeZone.length === 0) return false;
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function localParts(timeZone: string, atMs: number): LocalParts {
  const out: LocalParts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const p of formatterFor(timeZone).formatToParts(atMs)) {
    if (p.type === 'year') out.year = Number(p.value);
    else if (p.type === 'month') out.month = Number(p.value);
    else if (p.type === 'day') out.day = Number(p.value);
    else if (p.type === 'hour') out.hour = Number(p.value);
    else if (p.type === 'minute') out.minute = Number(p.value);
    else if (p.type === 'second') out.second = Number(p.value);
  }
  return out;
}

/** Offset of local time from UTC at an instant, in ms (positive east of Greenwich). */
function offsetMs(timeZone: string, atMs: number): number {
  const p = localParts(timeZone, atMs);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - (atMs - (((atMs % 1000) + 1000) % 1000));
}

/**
 * The instant at which the zone's wall clock shows `wallMs` (a wall time written as if it were
 * UTC). Two passes settle the offset on either side of a DST change. A wall time inside a DST
 * gap (02:30 on a spring-forward day) resolves to the instant an hour earlier (01:30 standard
 * time); one that happens twice (01:30 on a fall-back day) to its first, daylight, occurrence.
 */
export function wallClockToInstant(timeZone: string, wallMs: number): number {
  const t = wallMs - offsetMs(timeZone, wallMs);
  return wallMs - offsetMs(timeZone, t);
}

/** The instant of local midnight starting the given calendar date. */
function localMidnight(timeZone: string, year: number, month: number, day: number): number {
  let t = wallClockToInstant(timeZone, Date.UTC(year, month - 1, day));
  // Where midnight itself is skipped by a DST jump, the day starts at the first instant after the gap.
  const p = localParts(timeZone, t);
  if (p.day !== day) t += HOUR_MS;
  return t;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

export function dayWindowAt(timeZone: string, atMs: number): DayWindow {
  const p = localParts(timeZone, atMs);
  const startMs = localMidnight(timeZone, p.year, p.month, p.day);
  const next = new Date(Date.UTC(p.year, p.month - 1, p.day + 1));
  const endMs = localMidnight(timeZone, next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate());
  return { key: `${p.year}-${pad2(p.month)}-${pad2(p.day)}`, startMs, endMs };
}

/** Elapsed-hour bucket of an instant inside its day (0..24). */
export function hourIndex(window: DayWindow, atMs: number): number {
  const h = Math.floor((atMs - window.startMs) / HOUR_MS);
  return h < 0 ? 0 : h >= MAX_HOURS_PER_DAY ? MAX_HOURS_PER_DAY - 1 : h;
}
