import type { Targeting, TargetingInput } from '../../core/targeting/targeting';
import type { TargetingJson } from './schemas';

/** The campaign JSON's `targeting` (snake case, schema-valid) as core's input. */
export function targetingFromJson(json: TargetingJson): TargetingInput {
  return {
    geo: json.geo ?? null,
    deviceTypes: json.device_types ?? null,
    os: json.os ?? null,
    apps: json.apps ?? null,
    sites: json.sites ?? null,
    segments: json.segments ?? null,
    dayparts: json.dayparts ?? null,
    frequencyCapPerDay: json.frequency_cap_per_day ?? null,
  };
}

/** Only the restricted fields: an answer shows what the campaign narrows, and absent is "all". */
export function targetingToJson(t: Targeting): TargetingJson {
  const out: TargetingJson = {};
  if (t.geo !== null) out.geo = [...t.geo];
  if (t.deviceTypes !== null) out.device_types = [...t.deviceTypes];
  if (t.os !== null) out.os = [...t.os];
  if (t.apps !== null) out.apps = [...t.apps];
  if (t.sites !== null) out.sites = [...t.sites];
  if (t.segments !== null) out.segments = [...t.segments];
  if (t.dayparts !== null)
    out.dayparts = t.dayparts.map((p) => ({ weekdays: [...p.weekdays], hours: [...p.hours] }));
  if (t.frequencyCapPerDay !== null) out.frequency_cap_per_day = t.frequencyCapPerDay;
  return out;
}
