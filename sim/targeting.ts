import type { Static } from '@sinclair/typebox';
import type { Campaign } from '../core/campaign';
import { CodedError } from '../core/errors';
import { type BidAttributes, bidAttributes } from '../core/targeting/request';
import { type TargetingInput, targetingIssues } from '../core/targeting/targeting';
import { TargetingIndex } from '../core/targeting/targetingIndex';
import { AliasTable, type Rand, randStream } from './random';
import type { SimTargetingSchema } from './targetingSchema';

export type SimTargetingSpec = Static<typeof SimTargetingSchema>;

type Weighted<T> = readonly { readonly value: T; readonly weight: number }[];

/** The scenario's `targeting.requests`, as the validated (frozen) scenario holds it. */
export interface RequestAttributesSpec {
  readonly geo?: Weighted<string>;
  readonly deviceTypes?: Weighted<number>;
  readonly os?: Weighted<string>;
  readonly inventory?: readonly {
    readonly kind: 'site' | 'app';
    readonly value: string;
    readonly weight: number;
  }[];
  readonly segments?: readonly { readonly value: string; readonly share: number }[];
}

type CampaignRule = TargetingInput & { readonly ids: readonly string[] };

/** What the schema cannot check: real country codes, and each campaign named at most once. */
export function simTargetingProblems(spec: SimTargetingSpec): string[] {
  const problems: string[] = [];
  const named = new Set<string>();
  (spec.campaigns ?? []).forEach((rule, i) => {
    for (const issue of targetingIssues(rule))
      problems.push(`/targeting/campaigns/${i}/${issue.path}: ${issue.message}`);
    for (const id of rule.ids) {
      if (named.has(id)) problems.push(`/targeting/campaigns/${i}/ids: "${id}" is targeted twice`);
      named.add(id);
    }
  });
  return problems;
}

/** Each campaign's targeting, by position in `ids`; null where no rule names it. */
export function campaignTargetings(
  spec: { readonly campaigns?: readonly CampaignRule[] } | undefined,
  ids: readonly string[],
  source: string,
): (TargetingInput | null)[] {
  const out: (TargetingInput | null)[] = ids.map(() => null);
  if (spec === undefined) return out;
  const at = new Map(ids.map((id, i) => [id, i]));
  for (const { ids: named, ...targeting } of spec.campaigns ?? []) {
    for (const id of named) {
      const i = at.get(id);
      // A rule naming no campaign of the run is a typo that would silently target nothing.
      if (i === undefined)
        // The code of a bad scenario (sim/errorCodes.ts): the CLI exits 2 with this sentence.
        throw new CodedError(
          'SIM_ERR_BAD_SCENARIO',
          `${source}: invalid scenario\n  - /targeting/campaigns: "${id}" is not a campaign of this scenario`,
        );
      out[i] = targeting;
    }
  }
  return out;
}

/** Draws one value by weight, or null when the scenario gives none for the attribute. */
class WeightedPick<T> {
  private readonly table: AliasTable | null;
  constructor(private readonly entries: readonly { value: T; weight: number }[] | undefined) {
    this.table = entries === undefined ? null : new AliasTable(entries.map((e) => e.weight));
  }
  draw(rand: Rand): T | null {
    return this.table === null ? null : this.entries![this.table.sample(rand(), rand())]!.value;
  }
}

/**
 * The attributes of each simulated request, from a stream of their own: a scenario with targeting
 * draws nothing from the streams that decide candidates, throttles and clicks, and one without it
 * draws nothing at all.
 */
export class RequestAttributeSource {
  private readonly rand: Rand;
  private readonly geo: WeightedPick<string>;
  private readonly deviceTypes: WeightedPick<number>;
  private readonly os: WeightedPick<string>;
  private readonly inventory: WeightedPick<{ kind: 'site' | 'app'; value: string }>;

  constructor(
    private readonly spec: RequestAttributesSpec,
    seed: number,
  ) {
    this.rand = randStream(seed, 'targeting');
    this.geo = new WeightedPick(spec.geo);
    this.deviceTypes = new WeightedPick(spec.deviceTypes);
    this.os = new WeightedPick(spec.os);
    this.inventory = new WeightedPick(spec.inventory?.map((e) => ({ value: e, weight: e.weight })));
  }

  draw(): BidAttributes {
    const rand = this.rand;
    const inventory = this.inventory.draw(rand);
    const segments: string[] = [];
    for (const s of this.spec.segments ?? []) if (rand() < s.share) segments.push(s.value);
    return bidAttributes({
      country: this.geo.draw(rand),
      deviceType: this.deviceTypes.draw(rand),
      os: this.os.draw(rand),
      app: inventory?.kind === 'app' ? inventory.value : null,
      site: inventory?.kind === 'site' ? inventory.value : null,
      segments,
    });
  }
}

interface Positioned extends Campaign {
  readonly position: number;
}

/**
 * Which campaigns a simulated request may meet: the server's targeting index over the run's
 * campaigns, queried once per request; `allows(c)` then answers for campaign position c.
 */
export class TargetingFilter {
  private readonly index: TargetingIndex<Positioned>;
  private readonly stamp: Float64Array;
  private requestNo = -1;

  constructor(
    campaigns: readonly Campaign[],
    private readonly attributes: RequestAttributeSource,
  ) {
    this.index = new TargetingIndex(campaigns.map((c, position) => ({ ...c, position })));
    this.stamp = new Float64Array(campaigns.length).fill(-1);
  }

  /** Draws request `requestNo`'s attributes and marks the campaigns that match them at `atMs`. */
  prepare(requestNo: number, atMs: number): void {
    this.requestNo = requestNo;
    for (const c of this.index.matching(this.attributes.draw(), atMs)) this.stamp[c.position] = requestNo;
  }

  allows(position: number): boolean {
    return this.stamp[position] === this.requestNo;
  }
}
