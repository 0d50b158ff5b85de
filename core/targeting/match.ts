import type { BidAttributes } from './request';
import { type Targeting, daypartSlots } from './targeting';

/**
 * One campaign against one request, attribute by attribute: the reference the index is tested
 * against, and what a caller with a handful of campaigns may use directly. `weekHour` is the
 * request's hour of the week in the campaign's time zone (see weekHourAt).
 */
export function matchesTargeting(t: Targeting | null, a: BidAttributes, weekHour: number): boolean {
  if (t === null) return true;
  if (t.geo !== null && (a.country === null || !t.geo.includes(a.country))) return false;
  if (t.deviceTypes !== null && (a.deviceType === null || !t.deviceTypes.includes(a.deviceType)))
    return false;
  if (t.os !== null && (a.os === null || !t.os.includes(a.os))) return false;
  if (t.apps !== null || t.sites !== null) {
    const onApp = a.app !== null && t.apps !== null && t.apps.includes(a.app);
    const onSite = a.site !== null && t.sites !== null && t.sites.includes(a.site);
    if (!onApp && !onSite) return false;
  }
  if (t.segments !== null && !a.segments.some((s) => t.segments!.includes(s))) return false;
  if (t.dayparts !== null && !daypartSlots(t.dayparts)[weekHour]) return false;
  return true;
}
