import { isIsoAlpha3Country } from './countries';

/**
 * Who a campaign wants to reach. Every list is an any-of filter on one request attribute; a
 * null list (absent in JSON) means "every value", so a campaign without targeting bids on
 * everything, as before targeting existed. Values are normalised once here (countries upper
 * case, os lower case, duplicates dropped) so matching is plain equality.
 */
export interface Targeting {
  /** ISO 3166-1 alpha-3 countries of `device.geo.country`. */
  readonly geo: readonly string[] | null;
  /** OpenRTB / AdCOM device types (1 mobile/tablet ... 7 set-top box) of `device.devicetype`. */
  readonly deviceTypes: readonly number[] | null;
  /** Operating systems of `device.os`, compared case-insensitively. */
  readonly os: readonly string[] | null;
  /** App bundles (`app.bundle`). With `sites`, one inventory list: a request on either matches. */
  readonly apps: readonly string[] | null;
  /** Site domains (`site.domain`). */
  readonly sites: readonly string[] | null;
  /** Audience segments: the request's user must carry at least one of them. */
  readonly segments: readonly string[] | null;
  /** Local hours of the week, in the campaign's time zone, when it may bid. */
  readonly dayparts: readonly Daypart[] | null;
  /** Impressions one user may see of this campaign per local day; null is uncapped. */
  readonly frequencyCapPerDay: number | null;
}

/** ISO weekdays (1 Monday .. 7 Sunday) times local hours (0..23): every pair is a bidding hour. */
export interface Daypart {
  readonly weekdays: readonly number[];
  readonly hours: readonly number[];
}

export type TargetingInput = {
  geo?: readonly string[] | null;
  deviceTypes?: readonly number[] | null;
  os?: readonly string[] | null;
  apps?: readonly string[] | null;
  sites?: readonly string[] | null;
  segments?: readonly string[] | null;
  dayparts?: readonly Daypart[] | null;
  frequencyCapPerDay?: number | null;
};

/** OpenRTB 2.6 / AdCOM 1.0 device types: 1 mobile/tablet, 2 PC, 3 connected TV, 4 phone, 5 tablet, 6 connected device, 7 set-top box. */
export const DEVICE_TYPE_MIN = 1;
export const DEVICE_TYPE_MAX = 7;
/** Bounds that keep one campaign's index entries and one request's work small. */
export const MAX_TARGETING_VALUES = 1_000;
export const MAX_TARGETING_VALUE_LENGTH = 256;
export const MAX_DAYPARTS = 168;
export const MAX_FREQUENCY_CAP_PER_DAY = 1_000_000;
export const HOURS_PER_WEEK = 168;

export interface TargetingIssue {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

type Add = (path: string, message: string) => void;

function checkStrings(name: string, list: readonly string[] | null | undefined, add: Add): void {
  if (list == null) return;
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_TARGETING_VALUES) {
    add(name, `${name} must list 1 to ${MAX_TARGETING_VALUES} values, or be absent to match everything.`);
    return;
  }
  for (const v of list) {
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TARGETING_VALUE_LENGTH) {
      add(name, `each ${name} value must be a string of 1 to ${MAX_TARGETING_VALUE_LENGTH} characters.`);
      return;
    }
  }
}

function checkIntegers(name: string, list: readonly number[], min: number, max: number, add: Add): boolean {
  if (!Array.isArray(list) || list.length === 0 || list.length > MAX_TARGETING_VALUES) {
    add(name, `${name} must list 1 to ${MAX_TARGETING_VALUES} numbers.`);
    return false;
  }
  if (!list.every((x) => Number.isInteger(x) && x >= min && x <= max)) {
    add(name, `each ${name} value must be a whole number from ${min} to ${max}.`);
    return false;
  }
  return true;
}

/** Every problem with a targeting object; paths are relative to it ("geo", "dayparts[2].hours"). */
export function targetingIssues(t: TargetingInput): TargetingIssue[] {
  const issues: TargetingIssue[] = [];
  const add: Add = (path, message) => issues.push({ path, code: 'INVALID_TARGETING', message });
  checkStrings('geo', t.geo, add);
  if (t.geo != null && issues.length === 0) {
    const bad = t.geo.find((c) => !isIsoAlpha3Country(c.toUpperCase()));
    if (bad !== undefined)
      add('geo', `"${bad.slice(0, 16)}" is not an ISO 3166-1 alpha-3 country code such as "USA".`);
  }
  if (t.deviceTypes != null)
    checkIntegers('deviceTypes', t.deviceTypes, DEVICE_TYPE_MIN, DEVICE_TYPE_MAX, add);
  checkStrings('os', t.os, add);
  checkStrings('apps', t.apps, add);
  checkStrings('sites', t.sites, add);
  checkStrings('segments', t.segments, add);
  const parts = t.dayparts;
  if (parts != null) {
    if (!Array.isArray(parts) || parts.length === 0 || parts.length > MAX_DAYPARTS) {
      add('dayparts', `dayparts must list 1 to ${MAX_DAYPARTS} entries, or be absent to bid at every hour.`);
    } else {
      parts.forEach((p, i) => {
        checkIntegers(`dayparts[${i}].weekdays`, p?.weekdays, 1, 7, add);
        checkIntegers(`dayparts[${i}].hours`, p?.hours, 0, 23, add);
      });
    }
  }
  const cap = t.frequencyCapPerDay;
  if (cap != null && !(Number.isInteger(cap) && cap >= 1 && cap <= MAX_FREQUENCY_CAP_PER_DAY)) {
    add(
      'frequencyCapPerDay',
      `the frequency cap must be a whole number from 1 to ${MAX_FREQUENCY_CAP_PER_DAY}.`,
    );
  }
  return issues;
}

function normalised(
  list: readonly string[] | null | undefined,
  fold: (s: string) => string,
): readonly string[] | null {
  if (list == null) return null;
  return Object.freeze([...new Set(list.map(fold))].sort());
}

const same = (s: string) => s;

/** A frozen, normalised targeting; call only after `targetingIssues` found nothing. */
export function normaliseTargeting(t: TargetingInput): Targeting {
  return Object.freeze({
    geo: normalised(t.geo, (s) => s.toUpperCase()),
    deviceTypes:
      t.deviceTypes == null ? null : Object.freeze([...new Set(t.deviceTypes)].sort((a, b) => a - b)),
    os: normalised(t.os, (s) => s.toLowerCase()),
    apps: normalised(t.apps, same),
    sites: normalised(t.sites, same),
    segments: normalised(t.segments, same),
    dayparts:
      t.dayparts == null
        ? null
        : Object.freeze(
            t.dayparts.map((p) =>
              Object.freeze({
                weekdays: Object.freeze([...new Set(p.weekdays)].sort((a, b) => a - b)),
                hours: Object.freeze([...new Set(p.hours)].sort((a, b) => a - b)),
              }),
            ),
          ),
    frequencyCapPerDay: t.frequencyCapPerDay ?? null,
  });
}

/** A targeting that restricts nothing is stored as null: "absent means everything". */
export function isUnrestricted(t: Targeting): boolean {
  return (
    t.geo === null &&
    t.deviceTypes === null &&
    t.os === null &&
    t.apps === null &&
    t.sites === null &&
    t.segments === null &&
    t.dayparts === null &&
    t.frequencyCapPerDay === null
  );
}

/** The 168 hours of the week a daypart list allows, as slot (weekday-1)*24+hour -> allowed. */
export function daypartSlots(dayparts: readonly Daypart[]): boolean[] {
  const slots = new Array<boolean>(HOURS_PER_WEEK).fill(false);
  for (const p of dayparts)
    for (const d of p.weekdays) for (const h of p.hours) slots[(d - 1) * 24 + h] = true;
  return slots;
}

export function sameTargeting(a: Targeting | null, b: Targeting | null): boolean {
  if (a === b) return true;
  if (a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
