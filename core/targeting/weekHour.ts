/**
 * The hour of the week (0 = Monday 00:00-00:59 ... 167 = Sunday 23:00) an instant falls in, on
 * the wall clock of a time zone. Intl is pure computation: no clock is read here.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', weekday: 'short', hour: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

const WEEKDAY_INDEX: Readonly<Record<string, number>> = {
  Mon: 0,
  Tue: 1,
  Wed: 2,
  Thu: 3,
  Fri: 4,
  Sat: 5,
  Sun: 6,
};

export function weekHourAt(timeZone: string, atMs: number): number {
  let day = 0;
  let hour = 0;
  for (const p of formatterFor(timeZone).formatToParts(atMs)) {
    if (p.type === 'weekday') day = WEEKDAY_INDEX[p.value] ?? 0;
    else if (p.type === 'hour') hour = Number(p.value);
  }
  return day * 24 + hour;
}

/**
 * Every zone offset in use is a multiple of 15 minutes, so the local hour of the week is the same
 * for every instant of one UTC quarter hour: the index computes it once per zone and quarter.
 */
export const WEEK_HOUR_STABLE_MS = 15 * 60_000;
