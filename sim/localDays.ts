import { dayWindowAt, wallClockToInstant } from '../core/index';
import { MINUTE_MS } from './algorithmRun';
import type { Scenario } from './scenario';

/**
 * The simulated days of one time zone: the scenario's `days` local calendar days from its
 * `startDate`, each from local midnight to local midnight (23 or 25 hours across a DST change),
 * as the core's ledger rolls its day over (core/dayWindow.ts).
 */
export interface LocalDays {
  readonly timeZone: string;
  /** Local date of each day, YYYY-MM-DD: the day key the core books its spend under. */
  readonly dates: readonly string[];
  /** days + 1 instants: day d is [boundsMs[d], boundsMs[d + 1]). */
  readonly boundsMs: readonly number[];
}

/** LocalDays placed on the run's minute grid, for the recorder and the scores. */
export interface RunDays extends LocalDays {
  /** days + 1 minutes of the run: day d covers minutes [boundaryMinutes[d], boundaryMinutes[d + 1]). */
  readonly boundaryMinutes: readonly number[];
  /** Local day of each minute of the run: -1 before the first day, `days` after the last. */
  readonly dayOfMinute: Int8Array;
}

/** The date `d` days after a YYYY-MM-DD date, by the calendar (no zone involved). */
export function addDays(date: string, d: number): string {
  const [y, m, day] = date.split('-').map(Number);
  return new Date(Date.UTC(y!, m! - 1, day! + d)).toISOString().slice(0, 10);
}

/** The `days` local days of `timeZone` starting with local date `startDate`. */
export function localDays(timeZone: string, startDate: string, days: number): LocalDays {
  const dates: string[] = [];
  const boundsMs: number[] = [];
  for (let d = 0; d < days; d++) {
    const date = addDays(startDate, d);
    // Local noon is never inside a DST gap, so it names the date's window without ambiguity.
    const noon = wallClockToInstant(timeZone, Date.parse(`${date}T12:00:00Z`));
    const w = dayWindowAt(timeZone, noon);
    dates.push(w.key);
    if (d === 0) boundsMs.push(w.startMs);
    boundsMs.push(w.endMs);
  }
  return { timeZone, dates, boundsMs };
}

/** The run window covering every zone's days: from the earliest local midnight to the latest. */
export function runWindow(zones: readonly LocalDays[]): { startMs: number; endMs: number } {
  let startMs = Number.POSITIVE_INFINITY;
  let endMs = Number.NEGATIVE_INFINITY;
  for (const z of zones) {
    startMs = Math.min(startMs, z.boundsMs[0]!);
    endMs = Math.max(endMs, z.boundsMs[z.boundsMs.length - 1]!);
  }
  return { startMs, endMs };
}

/**
 * `zone` on the minute grid of a run starting at `startMs`, `minutes` long. Every IANA offset in
 * use since 1972 is a whole number of minutes; a historical one with seconds (local mean time)
 * is refused by the caller through `wholeMinutes`.
 */
export function onRunGrid(zone: LocalDays, startMs: number, minutes: number): RunDays {
  const boundaryMinutes = zone.boundsMs.map((ms) => (ms - startMs) / MINUTE_MS);
  const days = zone.dates.length;
  const dayOfMinute = new Int8Array(minutes);
  let d = -1;
  for (let m = 0; m < minutes; m++) {
    while (d < days && m >= boundaryMinutes[d + 1]!) d++;
    dayOfMinute[m] = d;
  }
  return { ...zone, boundaryMinutes, dayOfMinute };
}

/** True when every day of the zone starts on a whole minute from `startMs`. */
export function wholeMinutes(zone: LocalDays, startMs: number): boolean {
  return zone.boundsMs.every((ms) => (ms - startMs) % MINUTE_MS === 0);
}

/** Hour buckets of the zone's day `d`: 23, 24 or 25 around a DST change (a part hour counts). */
export function dayHours(zone: LocalDays, d: number): number {
  return Math.ceil((zone.boundsMs[d + 1]! - zone.boundsMs[d]!) / 3_600_000);
}

/** The time zones of a scenario's campaigns, each once, in order of first appearance. */
export function scenarioZones(s: Scenario): string[] {
  const list = s.campaigns.list;
  const zones = list ? list.map((c) => c.timeZone ?? 'UTC') : [s.campaigns.generate!.timeZone ?? 'UTC'];
  return [...new Set(zones)];
}

/** Each zone of the scenario with its local days on the minute grid of a run from `startMs`. */
export function zoneGrids(s: Scenario, startMs: number, minutes: number): Map<string, RunDays> {
  return new Map(
    scenarioZones(s).map((z) => [z, onRunGrid(localDays(z, s.startDate, s.days), startMs, minutes)]),
  );
}
