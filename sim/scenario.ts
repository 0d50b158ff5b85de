import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv, { type ErrorObject } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { type PacingMode, campaignIssues } from '../core/index';
import { MultipliersFileError, loadMultipliersFile } from './tune/multipliersFile';

/** A scenario after validation: defaults filled in, deeply frozen; the simulator trusts it. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly seed: number;
  readonly startDate: string;
  readonly days: number;
  readonly algorithms: readonly PacingMode[];
  readonly instances: {
    readonly count: number;
    readonly syncIntervalMs: number;
    readonly leaseHorizonMs: number;
    readonly minLeaseShare: number;
  };
  readonly pacer: PacerOverrides;
  readonly stream: SyntheticStreamSpec | RecordedStreamSpec;
  readonly bidding: {
    readonly kind: 'fixed' | 'linear_ctr';
    readonly baseCtr: number;
    /** pctr: each request's predicted CTR reaches decide() as its value signal; none: coin flips. */
    readonly valueSignal: 'pctr' | 'none';
  };
  readonly market: { readonly pricing: 'second' | 'first' };
  readonly winNotices: {
    readonly medianDelayMs: number;
    readonly sigma: number;
    readonly lateShare: number;
    readonly lateDelayMsMin: number;
    readonly lateDelayMsMax: number;
  };
  readonly campaigns: { readonly list?: readonly CampaignSpec[]; readonly generate?: CampaignGeneratorSpec };
  readonly faults: {
    readonly outages: readonly OutageSpec[];
    readonly restarts: readonly RestartSpec[];
    /** Absent when store calls answer at once. */
    readonly latency?: LatencySpec;
  };
  readonly thresholds: Thresholds;
  /** Absolute path of the file it came from (recorded stream paths are relative to it), or null. */
  readonly sourcePath: string | null;
}

export interface PacerOverrides {
  readonly tickMs?: number;
  readonly catchUpTicks?: number;
  readonly rateHalfLifeMs?: number;
  readonly reservationTtlMs?: number;
  readonly degradedThrottle?: number;
  readonly dualStepSize?: number;
  readonly dualLambdaMax?: number;
  readonly breaker?: {
    readonly mode?: 'precision' | 'classic';
    readonly floodShare?: number;
    readonly tripRatio?: number;
    readonly cooldownMs?: number;
    readonly probeCount?: number;
    readonly recoveredThrottle?: number;
  };
}

export interface SyntheticStreamSpec {
  readonly kind: 'synthetic';
  readonly meanQps: number;
  readonly hourlyProfile: readonly number[];
  readonly surges: readonly SurgeSpec[];
  readonly marketPrice: {
    readonly medianCpmMicros: number;
    readonly sigma: number;
    readonly maxCpmMicros: number;
  };
  readonly ctr: { readonly median: number; readonly sigma: number };
}

export interface SurgeSpec {
  readonly from: string;
  readonly to: string;
  readonly multiplier: number;
}

export interface RecordedStreamSpec {
  readonly kind: 'recorded';
  readonly path: string;
  readonly delimiter: string;
  readonly header: boolean;
  readonly priceMicrosPerUnit: number;
  /** log: rows of an hour in log order; shuffled: a seeded permutation of them per run seed. */
  readonly order: 'log' | 'shuffled';
  readonly columns: {
    readonly marketPrice: number | string;
    readonly click?: number | string;
    readonly pctr?: number | string;
    readonly hour?: number | string;
    readonly timeMs?: number | string;
  };
}

export interface CampaignSpec {
  readonly id: string;
  readonly name?: string;
  readonly dailyBudgetMicros: number;
  readonly pacingMode?: PacingMode;
  readonly bidCpmMicros: number;
  readonly maxBidCpmMicros?: number;
  readonly participation: number;
  readonly constrained?: boolean;
  /** Given in the scenario, or read from `hourlyMultipliersFile` at load. */
  readonly hourlyMultipliers?: readonly number[];
  /** Where `hourlyMultipliers` came from, as written in the scenario (relative to it). */
  readonly hourlyMultipliersFile?: string;
}

export interface Range {
  readonly min: number;
  readonly max: number;
}

export interface CampaignGeneratorSpec {
  readonly count: number;
  readonly seed?: number;
  readonly idPrefix?: string;
  readonly budgetMicros: Range;
  readonly bidCpmMicros: Range;
  readonly fullPassToBudget: Range;
  readonly unconstrained?: { readonly share: number; readonly fullPassToBudget: Range };
  readonly modes?: Readonly<Partial<Record<PacingMode, number>>>;
  readonly adaptiveMultipliers?: 'traffic' | 'flat';
  /** As written in the scenario; its numbers are in `hourlyMultipliers`. */
  readonly hourlyMultipliersFile?: string;
  /** Read from `hourlyMultipliersFile` at load: every generated campaign's ADAPTIVE multipliers. */
  readonly hourlyMultipliers?: readonly number[];
}

export interface OutageSpec {
  readonly day: number;
  readonly at: string;
  readonly durationMs: number;
}

/** An instance crash, normalised: `atMs` counts from the start of the run. */
export interface RestartSpec {
  readonly instance: number;
  readonly atMs: number;
  readonly downForMs: number;
}

/** Store latency, normalised: the window counts from the start of the run, [fromMs, toMs). */
export interface LatencySpec {
  readonly fromMs: number;
  readonly toMs: number;
  readonly meanMs: number;
  readonly jitterMs: number;
}

export interface Thresholds {
  readonly maxOverspentCampaignDays?: number;
  readonly minUtilisationConstrained?: number;
  readonly maxSpendLostMicros?: number;
  readonly minAccuracy?: Readonly<Partial<Record<PacingMode, number>>>;
}

/** Bad scenario input: every problem with the path of the field it concerns. */
export class ScenarioError extends Error {
  readonly code = 'SIM_ERR_BAD_SCENARIO';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(`${source}: invalid scenario\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ScenarioError';
  }
}

export const SCENARIO_SCHEMA_PATH = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../scenarios/scenario.schema.json',
);

let validator: ReturnType<Ajv['compile']> | null = null;

function validate(data: unknown): ErrorObject[] {
  if (validator === null) {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    validator = ajv.compile(JSON.parse(readFileSync(SCENARIO_SCHEMA_PATH, 'utf8')));
  }
  return validator(data) ? [] : [...(validator.errors ?? [])];
}

function describe(e: ErrorObject): string {
  const path = e.instancePath === '' ? '/' : e.instancePath;
  if (e.keyword === 'additionalProperty' || e.keyword === 'additionalProperties')
    return `${path}: unknown field "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  if (e.keyword === 'enum')
    return `${path}: ${e.message} (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})`;
  return `${path}: ${e.message}`;
}

function minutesOf(clock: string): number {
  const [h, m] = clock.split(':').map(Number);
  return h! * 60 + m!;
}

export const DEFAULT_HOURLY_PROFILE: readonly number[] = Object.freeze([
  0.55, 0.42, 0.35, 0.32, 0.33, 0.4, 0.55, 0.75, 0.95, 1.05, 1.1, 1.15, 1.2, 1.15, 1.1, 1.1, 1.15, 1.25, 1.35,
  1.45, 1.5, 1.4, 1.15, 0.8,
]);

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/**
 * Reads a multipliers file named by a scenario field (relative to the scenario file) and checks
 * its numbers with the core's campaign rule; a problem is reported at `field`, naming the file.
 */
function multipliersFromFile(
  rel: string,
  field: string,
  sourcePath: string | null,
  problems: string[],
): readonly number[] | undefined {
  const path = resolve(sourcePath ? dirname(sourcePath) : '.', rel);
  try {
    const m = loadMultipliersFile(path).hourlyMultipliers;
    const issues = campaignIssues({
      id: 'x',
      dailyBudgetMicros: 1,
      pacingMode: 'ADAPTIVE',
      hourlyMultipliers: m,
    }).filter((i) => i.path === 'hourlyMultipliers');
    if (issues.length === 0) return m;
    problems.push(`${field}: ${path}: ${issues.map((i) => i.message).join(' ')}`);
  } catch (err) {
    if (!(err instanceof MultipliersFileError)) throw err;
    problems.push(`${field}: ${err.message}`);
  }
  return undefined;
}

// biome-ignore lint/suspicious/noExplicitAny: the schema has checked the shape; this fills defaults.
type Raw = any;

const DAY_MS = 86_400_000;

function latencyFrom(x: Raw, days: number, problems: string[]): LatencySpec {
  const runMs = days * DAY_MS;
  const spec = { fromMs: x.fromMs ?? 0, toMs: x.toMs ?? runMs, meanMs: x.meanMs, jitterMs: x.jitterMs ?? 0 };
  if (spec.toMs <= spec.fromMs) problems.push('/faults/latency/toMs: must be after fromMs');
  if (spec.toMs > runMs) problems.push(`/faults/latency/toMs: the run is only ${runMs} ms long`);
  if (spec.jitterMs > spec.meanMs)
    problems.push('/faults/latency/jitterMs: must be <= meanMs (a delay is never negative)');
  return spec;
}

/**
 * Restarts with their time as ms from the run start, sorted. Each must name an existing instance,
 * give its time once, come back before the run ends and not overlap another restart of the same
 * instance.
 */
function restartsFrom(raw: readonly Raw[], days: number, count: number, problems: string[]): RestartSpec[] {
  const out: (RestartSpec & { index: number })[] = [];
  raw.forEach((x, i) => {
    const field = `/faults/restarts/${i}`;
    if (x.instance >= count)
      problems.push(`${field}/instance: the scenario has only ${count} instance(s) (0-based)`);
    if ((x.at === undefined) === (x.atMs === undefined)) {
      problems.push(`${field}: give "at" (with an optional "day") or "atMs", exactly one`);
      return;
    }
    if (x.atMs !== undefined && x.day !== undefined)
      problems.push(`${field}/day: "day" goes with "at"; "atMs" counts from the start of the run`);
    const atMs = x.atMs ?? (x.day ?? 0) * DAY_MS + minutesOf(x.at) * 60_000;
    if (atMs + x.downForMs >= days * DAY_MS)
      problems.push(`${field}/downForMs: the instance must be back before the run ends (${days} day(s))`);
    out.push({ instance: x.instance, atMs, downForMs: x.downForMs, index: i });
  });
  out.sort((a, b) => a.atMs - b.atMs || a.instance - b.instance);
  const upAt = new Map<number, number>();
  for (const r of out) {
    if ((upAt.get(r.instance) ?? -1) > r.atMs)
      problems.push(
        `/faults/restarts/${r.index}/atMs: instance ${r.instance} is still down from an earlier restart`,
      );
    upAt.set(r.instance, r.atMs + r.downForMs);
  }
  return out.map(({ instance, atMs, downForMs }) => ({ instance, atMs, downForMs }));
}

/** Validates parsed YAML/JSON against the schema, checks what the schema cannot, fills defaults. */
export function scenarioFrom(data: unknown, source: string, sourcePath: string | null = null): Scenario {
  const errors = validate(data);
  if (errors.length > 0) throw new ScenarioError(source, errors.map(describe));
  const r = data as Raw;
  const problems: string[] = [];
  const s = r.stream;
  let stream: SyntheticStreamSpec | RecordedStreamSpec;
  if (s.kind === 'synthetic') {
    const surges = (s.surges ?? []) as SurgeSpec[];
    surges.forEach((g, i) => {
      if (minutesOf(g.to) <= minutesOf(g.from)) problems.push(`/stream/surges/${i}/to: must be after "from"`);
    });
    const profile = (s.hourlyProfile ?? DEFAULT_HOURLY_PROFILE) as number[];
    if (!profile.some((x) => x > 0))
      problems.push('/stream/hourlyProfile: at least one hour must be above 0');
    stream = {
      kind: 'synthetic',
      meanQps: s.meanQps,
      hourlyProfile: profile,
      surges,
      marketPrice: {
        medianCpmMicros: s.marketPrice.medianCpmMicros,
        sigma: s.marketPrice.sigma,
        maxCpmMicros: s.marketPrice.maxCpmMicros ?? s.marketPrice.medianCpmMicros * 20,
      },
      ctr: { median: s.ctr?.median ?? 0.001, sigma: s.ctr?.sigma ?? 0.5 },
    };
  } else {
    const ipinyou = s.preset === 'ipinyou';
    const columns = s.columns ?? (ipinyou ? { click: 0, marketPrice: 1, pctr: 2, hour: 3 } : undefined);
    if (columns === undefined) problems.push('/stream/columns: required unless preset is given');
    const header = s.header ?? false;
    if (columns !== undefined && !header) {
      for (const [k, v] of Object.entries(columns))
        if (typeof v === 'string')
          problems.push(`/stream/columns/${k}: a column name needs header: true; use an index`);
    }
    const order = s.order ?? 'log';
    if (order === 'shuffled' && columns !== undefined && columns.hour === undefined)
      problems.push('/stream/order: "shuffled" permutes rows within an hour and needs an hour column');
    stream = {
      kind: 'recorded',
      path: s.path,
      order,
      delimiter: s.delimiter ?? (ipinyou ? '\t' : ','),
      header,
      priceMicrosPerUnit: s.priceMicrosPerUnit ?? (ipinyou ? 10_000 : 1),
      columns: columns ?? { marketPrice: 0 },
    };
  }
  const winNotices = {
    medianDelayMs: r.winNotices?.medianDelayMs ?? 500,
    sigma: r.winNotices?.sigma ?? 0.8,
    lateShare: r.winNotices?.lateShare ?? 0,
    lateDelayMsMin: r.winNotices?.lateDelayMsMin ?? 30_000,
    lateDelayMsMax: r.winNotices?.lateDelayMsMax ?? 300_000,
  };
  if (winNotices.lateDelayMsMax < winNotices.lateDelayMsMin)
    problems.push('/winNotices/lateDelayMsMax: must be >= lateDelayMsMin');
  const days = r.days ?? 1;
  const outages = ((r.faults?.outages ?? []) as Raw[]).map((o, i) => {
    const day = o.day ?? 0;
    if (day >= days) problems.push(`/faults/outages/${i}/day: the scenario has only ${days} day(s)`);
    return { day, at: o.at, durationMs: o.durationMs };
  });
  const restarts = restartsFrom((r.faults?.restarts ?? []) as Raw[], days, r.instances?.count ?? 1, problems);
  const latency = r.faults?.latency === undefined ? undefined : latencyFrom(r.faults.latency, days, problems);
  let campaigns: Scenario['campaigns'] = r.campaigns;
  if (r.campaigns.list) {
    const seen = new Set<string>();
    const list = (r.campaigns.list as CampaignSpec[]).map((c, i) => {
      if (seen.has(c.id)) problems.push(`/campaigns/list/${i}/id: duplicate id "${c.id}"`);
      seen.add(c.id);
      if (c.maxBidCpmMicros !== undefined && c.maxBidCpmMicros < 1)
        problems.push(`/campaigns/list/${i}/maxBidCpmMicros: must be >= 1`);
      if (c.hourlyMultipliers && !c.hourlyMultipliers.some((x) => x > 0))
        problems.push(`/campaigns/list/${i}/hourlyMultipliers: at least one hour must be above 0`);
      if (c.hourlyMultipliersFile === undefined) return c;
      const field = `/campaigns/list/${i}/hourlyMultipliersFile`;
      if (c.hourlyMultipliers) {
        problems.push(`${field}: give hourlyMultipliers or hourlyMultipliersFile, not both`);
        return c;
      }
      const m = multipliersFromFile(c.hourlyMultipliersFile, field, sourcePath, problems);
      return m ? { ...c, hourlyMultipliers: m } : c;
    });
    if (list.some((c, i) => c !== r.campaigns.list[i])) campaigns = { list };
  }
  const g = r.campaigns.generate;
  if (g) {
    for (const k of ['budgetMicros', 'bidCpmMicros', 'fullPassToBudget'])
      if (g[k].max < g[k].min) problems.push(`/campaigns/generate/${k}/max: must be >= min`);
    if (g.modes && !Object.values(g.modes as Record<string, number>).some((w) => w > 0))
      problems.push('/campaigns/generate/modes: at least one weight must be above 0');
    if (g.hourlyMultipliersFile !== undefined) {
      const field = '/campaigns/generate/hourlyMultipliersFile';
      if (g.adaptiveMultipliers !== undefined)
        problems.push(`${field}: give adaptiveMultipliers or hourlyMultipliersFile, not both`);
      else {
        const m = multipliersFromFile(g.hourlyMultipliersFile, field, sourcePath, problems);
        if (m) campaigns = { generate: { ...g, hourlyMultipliers: m } };
      }
    }
  }
  const date = r.startDate ?? '2024-03-15';
  if (Number.isNaN(Date.parse(`${date}T00:00:00Z`))) problems.push(`/startDate: "${date}" is not a date`);
  if (problems.length > 0) throw new ScenarioError(source, problems);

  return deepFreeze({
    name: r.name,
    description: r.description ?? '',
    seed: r.seed,
    startDate: date,
    days,
    algorithms: r.algorithms,
    instances: {
      count: r.instances?.count ?? 1,
      syncIntervalMs: r.instances?.syncIntervalMs ?? 1000,
      leaseHorizonMs: r.instances?.leaseHorizonMs ?? 5 * 60_000,
      minLeaseShare: r.instances?.minLeaseShare ?? 0.002,
    },
    pacer: r.pacer ?? {},
    stream,
    bidding: {
      kind: r.bidding?.kind ?? 'fixed',
      baseCtr: r.bidding?.baseCtr ?? 0.001,
      valueSignal: r.bidding?.valueSignal ?? 'pctr',
    },
    market: { pricing: r.market?.pricing ?? 'second' },
    winNotices,
    campaigns,
    faults: { outages, restarts, ...(latency && { latency }) },
    thresholds: r.thresholds ?? {},
    sourcePath,
  } satisfies Scenario);
}

export function parseScenario(text: string, source: string, sourcePath: string | null = null): Scenario {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new ScenarioError(source, [`not valid YAML: ${(err as Error).message}`]);
  }
  return scenarioFrom(data, source, sourcePath);
}

export function loadScenario(path: string): Scenario {
  const abs = resolve(path);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new ScenarioError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  return parseScenario(text, path, abs);
}

/** Minutes after midnight of an HH:MM clock. */
export { minutesOf };
