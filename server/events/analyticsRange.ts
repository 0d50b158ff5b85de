import { DAY_MS } from '../../core/dayWindow';
import { InvalidRangeError } from './eventErrors';
import { MAX_ANALYTICS_DAYS } from './eventSchemas';

/** A calendar date that exists (2026-02-30 matches the pattern but is not a day). */
function isCalendarDate(day: string): boolean {
  const t = Date.parse(`${day}T00:00:00Z`);
  return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === day;
}

/**
 * The days one report covers: from..to inclusive, local dates of the campaign; `to` defaults to
 * today, `from` to six days before `to`. Refuses what cannot be a range.
 */
export function analyticsRange(
  q: { from?: string; to?: string },
  today: string,
): { from: string; to: string } {
  const to = q.to ?? today;
  if (!isCalendarDate(to)) throw new InvalidRangeError(`to=${to} is not a calendar date; send YYYY-MM-DD.`);
  const from = q.from ?? new Date(Date.parse(`${to}T00:00:00Z`) - 6 * DAY_MS).toISOString().slice(0, 10);
  if (!isCalendarDate(from))
    throw new InvalidRangeError(`from=${from} is not a calendar date; send YYYY-MM-DD.`);
  if (from > to) throw new InvalidRangeError(`from (${from}) is after to (${to}); swap them.`);
  const days = (Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS + 1;
  if (days > MAX_ANALYTICS_DAYS) {
    throw new InvalidRangeError(
      `from=${from} to=${to} spans ${days} days, more than ${MAX_ANALYTICS_DAYS}; ask in parts.`,
    );
  }
  return { from, to };
}
