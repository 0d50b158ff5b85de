import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Static } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { CodedError, MAX_MICROS, type PacingMode, campaignIssues, errorCode } from '../core/index';
import {
  type CampaignGeneratorSchema,
  type CampaignSpecSchema,
  type CtrSchema,
  type InstancesSchema,
  type MarketPriceSchema,
  type OutageSchema,
  type PacerLogStreamSchema,
  type PacerOverridesSchema,
  type RangeSchema,
  type RecordedStreamSchema,
  type ScenarioInput,
  ScenarioSchema,
  type SurgeSchema,
  type SyntheticStreamSchema,
  type ThresholdsSchema,
  type WinNoticesSchema,
} from './scenarioSchema';
import { schemaChecker } from './schemaCheck';
import { type SimTargetingSpec, simTargetingProblems } from './targeting';
import { loadMultipliersFile } from './tune/multipliersFile';

/** Deeply readonly: a validated scenario is frozen, and its types say so. */
type Frozen<T> = T extends readonly (infer U)[]
  ? readonly Frozen<U>[]
  : T extends object
    ? { readonly [K in keyof T]: Frozen<T[K]> }
    : T;

// The scenario types are derived from the schema (sim/scenarioSchema.ts). `Required<>` marks the
// fields the schema or scenarioFrom fills when the file leaves them out.
export type PacerOverrides = Frozen<Static<typeof PacerOverridesSchema>>;
export type SurgeSpec = Frozen<Static<typeof SurgeSchema>>;
export type SyntheticStreamSpec = Frozen<
  Required<Omit<Static<typeof SyntheticStreamSchema>, 'marketPrice' | 'ctr'>> & {
    marketPrice: Required<Static<typeof MarketPriceSchema>>;
    ctr: Required<Static<typeof CtrSchema>>;
  }
>;
export type RecordedStreamSpec = Frozen<Required<Omit<Static<typeof RecordedStreamSchema>, 'preset'>>>;
export type PacerLogStreamSpec = Frozen<Static<typeof PacerLogStreamSchema>>;
export type CampaignSpec = Frozen<Static<typeof CampaignSpecSchema>>;
export type Range = Frozen<Static<typeof RangeSchema>>;
export type CampaignGeneratorSpec = Frozen<
  Static<typeof CampaignGeneratorSchema> & {
    /** Read from `hourlyMultipliersFile` at load: every generated campaign's ADAPTIVE multipliers. */
    hourlyMultipliers?: number[];
  }
>;
export type OutageSpec = Frozen<Required<Static<typeof OutageSchema>>>;
export type Thresholds = Frozen<Static<typeof ThresholdsSchema>>;

/** An instance crash, normalised from the file's `at`/`day`/`atMs`: `atMs` counts from the run start. */
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

/** A scenario after validation: defaults filled in, deeply frozen; the simulator trusts it. */
export type Scenario = Frozen<{
  name: string;
  description: string;
  seed: number;
  startDate: string;
  days: number;
  algorithms: PacingMode[];
  instances: Required<Static<typeof InstancesSchema>>;
  pacer: PacerOverrides;
  stream: SyntheticStreamSpec | RecordedStreamSpec | PacerLogStreamSpec;
  bidding: {
    kind: 'fixed' | 'linear_ctr';
    baseCtr: number;
    /** pctr: each request's predicted CTR reaches decide() as its value signal; none: coin flips. */
    valueSignal: 'pctr' | 'none';
  };
  market: { pricing: 'second' | 'first'; candidates: 'participation' | 'all' };
  winNotices: Required<Static<typeof WinNoticesSchema>>;
  campaigns: { list?: CampaignSpec[]; generate?: CampaignGeneratorSpec };
  faults: {
    outages: OutageSpec[];
    restarts: RestartSpec[];
    /** Absent when store calls answer at once. */
    latency?: LatencySpec;
  };
  thresholds: Thresholds;
  /** Request attributes and campaign targeting; absent: every campaign may meet every request. */
  targeting?: SimTargetingSpec;
  /** Absolute path of the file it came from (recorded stream paths are relative to it), or null. */
  sourcePath: string | null;
}>;

/** Bad scenario input: every problem with the path of the field it concerns. */
export class ScenarioError extends CodedError {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super(
      'SIM_ERR_BAD_SCENARIO',
      `${source}: invalid scenario\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
    this.name = 'ScenarioError';
  }
}

/** The shipped JSON Schema, generated from sim/scenarioSchema.ts by `npm run schema`. */
export const SCENARIO_SCHEMA_PATH = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../scenarios/scenario.schema.json',
);

const checkScenario = schemaChecker(ScenarioSchema);

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
    if (errorCode(err) !== 'TUNE_ERR_BAD_MULTIPLIERS') throw err;
    problems.push(`${field}: ${(err as Error).message}`);
  }
  return undefined;
}

/** The file's shape after the schema filled its defaults (objects with defaults are present). */
type Input = ScenarioInput & {
  instances: Required<Static<typeof InstancesSchema>>;
  winNotices: Required<Static<typeof WinNoticesSchema>>;
  faults: Required<Omit<NonNullable<ScenarioInput['faults']>, 'latency'>> &
    Pick<NonNullable<ScenarioInput['faults']>, 'latency'>;
};
type LatencyInput = NonNullable<NonNullable<ScenarioInput['faults']>['latency']>;
type RestartInput = NonNullable<NonNullable<ScenarioInput['faults']>['restarts']>[number];

const DAY_MS = 86_400_000;

function latencyFrom(x: LatencyInput, days: number, problems: string[]): LatencySpec {
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
function restartsFrom(
  raw: readonly RestartInput[],
  days: number,
  count: number,
  problems: string[],
): RestartSpec[] {
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
    const atMs = x.atMs ?? (x.day ?? 0) * DAY_MS + minutesOf(x.at!) * 60_000;
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

function syntheticFrom(s: Static<typeof SyntheticStreamSchema>, problems: string[]): SyntheticStreamSpec {
  const surges = s.surges ?? [];
  surges.forEach((g, i) => {
    if (minutesOf(g.to) <= minutesOf(g.from)) problems.push(`/stream/surges/${i}/to: must be after "from"`);
  });
  const profile = s.hourlyProfile ?? [...DEFAULT_HOURLY_PROFILE];
  if (!profile.some((x) => x > 0)) problems.push('/stream/hourlyProfile: at least one hour must be above 0');
  const m = s.marketPrice;
  // The cap's default depends on the median, so it is filled here rather than by the schema.
  const maxCpmMicros = m.maxCpmMicros ?? Math.min(m.medianCpmMicros * 20, MAX_MICROS);
  if (maxCpmMicros < m.medianCpmMicros)
    problems.push(
      `/stream/marketPrice/maxCpmMicros: must be >= medianCpmMicros (${m.medianCpmMicros}); the cap is the highest price drawn`,
    );
  return {
    kind: 'synthetic',
    meanQps: s.meanQps,
    hourlyProfile: profile,
    surges,
    marketPrice: { medianCpmMicros: m.medianCpmMicros, sigma: m.sigma, maxCpmMicros },
    ctr: { median: s.ctr!.median!, sigma: s.ctr!.sigma! },
  };
}

function recordedFrom(s: Static<typeof RecordedStreamSchema>, problems: string[]): RecordedStreamSpec {
  // The iPinYou preset sets the layout of ../shared/data; explicit fields win over it.
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
  return {
    kind: 'recorded',
    path: s.path,
    order,
    delimiter: s.delimiter ?? (ipinyou ? '\t' : ','),
    header,
    priceMicrosPerUnit: s.priceMicrosPerUnit ?? (ipinyou ? 10_000 : 1),
    columns: columns ?? { marketPrice: 0 },
  };
}

/** Listed campaigns: unique ids, the core's campaign rule, multipliers read from their files. */
function listFrom(
  raw: readonly Static<typeof CampaignSpecSchema>[],
  sourcePath: string | null,
  problems: string[],
): CampaignSpec[] {
  const seen = new Set<string>();
  return raw.map((c, i) => {
    const at = `/campaigns/list/${i}`;
    if (seen.has(c.id)) problems.push(`${at}/id: duplicate id "${c.id}"`);
    seen.add(c.id);
    // The campaign the engine will make from this spec must pass the core's rule here, at the
    // edge, not inside a worker thread.
    for (const issue of campaignIssues({
      id: c.id,
      dailyBudgetMicros: c.dailyBudgetMicros,
      pacingMode: c.pacingMode ?? 'EVEN',
      maxBidCpmMicros: c.maxBidCpmMicros ?? c.bidCpmMicros,
      hourlyMultipliers: c.hourlyMultipliers ?? null,
      timeZone: c.timeZone ?? 'UTC',
    }))
      problems.push(`${at}/${issue.path}: ${issue.message}`);
    if (c.hourlyMultipliersFile === undefined) return c;
    const field = `${at}/hourlyMultipliersFile`;
    if (c.hourlyMultipliers) {
      problems.push(`${field}: give hourlyMultipliers or hourlyMultipliersFile, not both`);
      return c;
    }
    const m = multipliersFromFile(c.hourlyMultipliersFile, field, sourcePath, problems);
    return m ? { ...c, hourlyMultipliers: [...m] } : c;
  });
}

function generatorFrom(
  g: Static<typeof CampaignGeneratorSchema>,
  sourcePath: string | null,
  problems: string[],
): CampaignGeneratorSpec {
  for (const k of ['budgetMicros', 'bidCpmMicros', 'fullPassToBudget'] as const)
    if (g[k].max < g[k].min) problems.push(`/campaigns/generate/${k}/max: must be >= min`);
  for (const k of ['budgetMicros', 'bidCpmMicros'] as const)
    if (g[k].max > MAX_MICROS) problems.push(`/campaigns/generate/${k}/max: must be <= ${MAX_MICROS}`);
  for (const issue of campaignIssues({ id: 'x', dailyBudgetMicros: 1, timeZone: g.timeZone ?? 'UTC' }))
    problems.push(`/campaigns/generate/${issue.path}: ${issue.message}`);
  if (g.modes && !Object.values(g.modes).some((w) => w > 0))
    problems.push('/campaigns/generate/modes: at least one weight must be above 0');
  if (g.hourlyMultipliersFile === undefined) return g;
  const field = '/campaigns/generate/hourlyMultipliersFile';
  if (g.adaptiveMultipliers !== undefined) {
    problems.push(`${field}: give adaptiveMultipliers or hourlyMultipliersFile, not both`);
    return g;
  }
  const m = multipliersFromFile(g.hourlyMultipliersFile, field, sourcePath, problems);
  return m ? { ...g, hourlyMultipliers: [...m] } : g;
}

/** Validates parsed YAML/JSON against the schema (which fills defaults), then checks what it cannot. */
export function scenarioFrom(data: unknown, source: string, sourcePath: string | null = null): Scenario {
  // Ajv fills defaults in place: work on a copy, the caller's object stays as it was.
  const copy = structuredClone(data);
  const errors = checkScenario(copy);
  if (errors.length > 0) throw new ScenarioError(source, errors);
  const r = copy as Input;
  const problems: string[] = [];
  const stream =
    r.stream.kind === 'synthetic'
      ? syntheticFrom(r.stream, problems)
      : r.stream.kind === 'pacer-log'
        ? { kind: 'pacer-log' as const, path: r.stream.path }
        : recordedFrom(r.stream, problems);
  const winNotices = r.winNotices;
  if (winNotices.lateDelayMsMax < winNotices.lateDelayMsMin)
    problems.push('/winNotices/lateDelayMsMax: must be >= lateDelayMsMin');
  const days = r.days!;
  const outages = r.faults.outages.map((o, i) => {
    if (o.day! >= days) problems.push(`/faults/outages/${i}/day: the scenario has only ${days} day(s)`);
    return { day: o.day!, at: o.at, durationMs: o.durationMs };
  });
  const restarts = restartsFrom(r.faults.restarts, days, r.instances.count, problems);
  const latency = r.faults.latency === undefined ? undefined : latencyFrom(r.faults.latency, days, problems);
  const campaigns = r.campaigns.list
    ? { list: listFrom(r.campaigns.list, sourcePath, problems) }
    : { generate: generatorFrom(r.campaigns.generate!, sourcePath, problems) };
  const date = r.startDate!;
  if (Number.isNaN(Date.parse(`${date}T00:00:00Z`))) problems.push(`/startDate: "${date}" is not a date`);
  if (r.targeting !== undefined) problems.push(...simTargetingProblems(r.targeting as SimTargetingSpec));
  if (problems.length > 0) throw new ScenarioError(source, problems);

  return deepFreeze({
    name: r.name,
    description: r.description!,
    seed: r.seed,
    startDate: date,
    days,
    algorithms: r.algorithms,
    instances: r.instances,
    pacer: r.pacer!,
    stream,
    bidding: { kind: r.bidding!.kind!, baseCtr: r.bidding!.baseCtr!, valueSignal: r.bidding!.valueSignal! },
    market: { pricing: r.market!.pricing!, candidates: r.market!.candidates! },
    winNotices,
    campaigns,
    faults: { outages, restarts, ...(latency && { latency }) },
    thresholds: r.thresholds!,
    ...(r.targeting !== undefined && { targeting: r.targeting as SimTargetingSpec }),
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

/**
 * Largest scenario file read. The biggest shipped one is 2.5 KB; 10,000 listed campaigns fit in
 * about 1 MB. The cap keeps `/dev/zero` or a mistyped path to a recording from being read whole.
 */
export const MAX_SCENARIO_BYTES = 4 * 1024 * 1024;

/** Reads a regular file of at most `MAX_SCENARIO_BYTES`, deciding before reading all of it. */
function readScenarioText(abs: string): string {
  // stat before open: opening a named pipe would block until something writes to it.
  if (!statSync(abs).isFile()) throw new Error('not a regular file (a device, directory or pipe)');
  const fd = openSync(abs, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file (a device, directory or pipe)');
    // Read one byte past the cap: a file that grew after fstat is still caught.
    const buf = Buffer.alloc(Math.min(st.size, MAX_SCENARIO_BYTES) + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    if (n > MAX_SCENARIO_BYTES)
      throw new Error(`larger than ${MAX_SCENARIO_BYTES} bytes; a scenario is a short YAML file`);
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

export function loadScenario(path: string): Scenario {
  const abs = resolve(path);
  let text: string;
  try {
    text = readScenarioText(abs);
  } catch (err) {
    throw new ScenarioError(path, [`cannot read the file: ${(err as Error).message}`]);
  }
  return parseScenario(text, path, abs);
}

/** Minutes after midnight of an HH:MM clock. */
export { minutesOf };
