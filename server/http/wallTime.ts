import { wallClockToInstant } from '../../core/dayWindow';

/**
 * Campaign flight dates arrive as ISO 8601 text. With "Z" or an offset they name an instant;
 * without, they are wall-clock time in the campaign's own time zone (what a media planner means
 * by "starts 2024-01-01 at midnight"). Intl does the zone arithmetic; nothing here reads a clock.
 */
const ISO_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:\d{2})?$/;

/**
 * The instant an ISO date or date-time names, or null when it is not a real calendar time.
 * A wall time inside a DST gap or overlap resolves as core's wallClockToInstant says.
 */
export function parseFlightDate(text: string, timeZone: string): number | null {
  const m = ISO_PATTERN.exec(text);
  if (m === null) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) =>
    x === undefined ? 0 : Number(x),
  ) as [number, number, number, number, number, number];
  const millis = m[7] === undefined ? 0 : Number(m[7].padEnd(3, '0'));
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return null;
  const wallMs = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  // Date.UTC rolls 2024-02-30 over to March; a date that does not round-trip does not exist.
  if (new Date(wallMs).getUTCDate() !== day) return null;
  const zone = m[8];
  if (zone === 'Z') return wallMs;
  if (zone !== undefined) {
    const sign = zone[0] === '-' ? -1 : 1;
    const offsetMinutes = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6));
    return wallMs - sign * offsetMinutes * 60_000;
  }
  return wallClockToInstant(timeZone, wallMs);
}

export function formatInstant(atMs: number): string {
  return new Date(atMs).toISOString();
}
