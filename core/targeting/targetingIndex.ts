import { type Bitset, andInto, forEachBit, newBitset, orInto, setBit } from './bitset';
import type { BidAttributes } from './request';
import { HOURS_PER_WEEK, type Targeting, daypartSlots } from './targeting';
import { WEEK_HOUR_STABLE_MS, weekHourAt } from './weekHour';

/** What the index needs of a campaign; the server's and the simulator's campaigns both fit. */
export interface TargetedCampaign {
  readonly targeting: Targeting | null;
  readonly timeZone: string;
}

/**
 * One attribute's inverted index: the campaigns that do not restrict it, and per value the
 * campaigns that list it. The campaigns a request matches on this attribute are `any` OR the
 * lists of its values.
 */
class AttributeIndex {
  readonly any: Bitset;
  readonly byValue = new Map<string, Bitset>();
  constructor(private readonly size: number) {
    this.any = newBitset(size);
  }

  add(position: number, values: readonly (string | number)[] | null): void {
    if (values === null) {
      setBit(this.any, position);
      return;
    }
    for (const v of values) {
      const key = String(v);
      let b = this.byValue.get(key);
      if (b === undefined) {
        b = newBitset(this.size);
        this.byValue.set(key, b);
      }
      setBit(b, position);
    }
  }

  /** `target &= any | lists(values)`, using `scratch` as room. */
  narrow(target: Bitset, scratch: Bitset, values: readonly (string | null)[]): void {
    scratch.set(this.any);
    for (const v of values) {
      if (v === null) continue;
      const b = this.byValue.get(v);
      if (b !== undefined) orInto(scratch, b);
    }
    andInto(target, scratch);
  }
}

/** Dayparts depend on the campaign's zone: per zone, which campaigns bid in each hour of the week. */
class DaypartIndex {
  readonly any: Bitset;
  readonly byZone = new Map<string, Bitset[]>();
  private readonly weekHourCache = new Map<string, { block: number; weekHour: number }>();
  constructor(private readonly size: number) {
    this.any = newBitset(size);
  }

  add(position: number, timeZone: string, t: Targeting | null): void {
    if (t === null || t.dayparts === null) {
      setBit(this.any, position);
      return;
    }
    let hours = this.byZone.get(timeZone);
    if (hours === undefined) {
      hours = Array.from({ length: HOURS_PER_WEEK }, () => newBitset(this.size));
      this.byZone.set(timeZone, hours);
    }
    const slots = daypartSlots(t.dayparts);
    for (let h = 0; h < HOURS_PER_WEEK; h++) if (slots[h]) setBit(hours[h]!, position);
  }

  narrow(target: Bitset, scratch: Bitset, nowMs: number): void {
    scratch.set(this.any);
    for (const [zone, hours] of this.byZone) orInto(scratch, hours[this.weekHour(zone, nowMs)]!);
    andInto(target, scratch);
  }

  private weekHour(zone: string, nowMs: number): number {
    const block = Math.floor(nowMs / WEEK_HOUR_STABLE_MS);
    const cached = this.weekHourCache.get(zone);
    if (cached !== undefined && cached.block === block) return cached.weekHour;
    const weekHour = weekHourAt(zone, nowMs);
    this.weekHourCache.set(zone, { block, weekHour });
    return weekHour;
  }
}

/**
 * The campaigns whose targeting matches a request, without testing every campaign: one inverted
 * index per attribute, combined by word-wise AND/OR over bitsets of campaign positions. With
 * 10,000 campaigns a request costs a few hundred word operations per attribute plus one visit
 * per matching campaign. Immutable once built: rebuild it when the campaigns change.
 */
export class TargetingIndex<C extends TargetedCampaign> {
  private readonly geo: AttributeIndex;
  private readonly deviceType: AttributeIndex;
  private readonly os: AttributeIndex;
  private readonly inventory: AttributeIndex;
  private readonly segments: AttributeIndex;
  private readonly dayparts: DaypartIndex;
  private readonly all: Bitset;
  private readonly result: Bitset;
  private readonly scratch: Bitset;
  private readonly inventoryKeys: (string | null)[] = [null, null];
  private readonly single: (string | null)[] = [null];

  constructor(readonly campaigns: readonly C[]) {
    const n = campaigns.length;
    this.geo = new AttributeIndex(n);
    this.deviceType = new AttributeIndex(n);
    this.os = new AttributeIndex(n);
    this.inventory = new AttributeIndex(n);
    this.segments = new AttributeIndex(n);
    this.dayparts = new DaypartIndex(n);
    this.all = newBitset(n);
    this.result = newBitset(n);
    this.scratch = newBitset(n);
    campaigns.forEach((c, i) => this.add(i, c));
  }

  private add(i: number, c: C): void {
    const t = c.targeting;
    setBit(this.all, i);
    this.geo.add(i, t?.geo ?? null);
    this.deviceType.add(i, t?.deviceTypes ?? null);
    this.os.add(i, t?.os ?? null);
    this.inventory.add(i, t === null || (t.apps === null && t.sites === null) ? null : inventoryValues(t));
    this.segments.add(i, t?.segments ?? null);
    this.dayparts.add(i, c.timeZone, t);
  }

  /** The matching campaigns in index order. */
  matching(a: BidAttributes, nowMs: number): C[] {
    const r = this.result;
    r.set(this.all);
    this.narrowOne(this.geo, a.country);
    this.narrowOne(this.deviceType, a.deviceType === null ? null : String(a.deviceType));
    this.narrowOne(this.os, a.os);
    this.inventoryKeys[0] = a.app === null ? null : `app\u0000${a.app}`;
    this.inventoryKeys[1] = a.site === null ? null : `site\u0000${a.site}`;
    this.inventory.narrow(r, this.scratch, this.inventoryKeys);
    this.segments.narrow(r, this.scratch, a.segments);
    this.dayparts.narrow(r, this.scratch, nowMs);
    const out: C[] = [];
    forEachBit(r, (i) => out.push(this.campaigns[i]!));
    return out;
  }

  private narrowOne(index: AttributeIndex, value: string | null): void {
    this.single[0] = value;
    index.narrow(this.result, this.scratch, this.single);
  }
}

function inventoryValues(t: Targeting): string[] {
  const keys: string[] = [];
  for (const app of t.apps ?? []) keys.push(`app\u0000${app}`);
  for (const site of t.sites ?? []) keys.push(`site\u0000${site}`);
  return keys;
}
