import { type Static, type TOptional, type TSchema, Type } from '@sinclair/typebox';
import { MAX_HOURLY_MULTIPLIER, MAX_MICROS, PACING_MODES, type PacingMode } from '../core/index';
import { SimTargetingSchema } from './targetingSchema';

/**
 * The one schema of a scenario file. The simulator validates with it (Ajv, defaults filled by the
 * schema's `default`s), the scenario types are derived from it, and the shipped
 * scenarios/scenario.schema.json is generated from it (`npm run schema`, checked by a test).
 * Defaults that depend on another field (the market price cap, the recorded presets) are filled
 * in sim/scenario.ts, which also checks what a schema cannot (one field against another).
 */

/** A string from a closed list, as a JSON Schema `enum` (clearer errors than a union of consts). */
function StringEnum<const T extends readonly string[]>(
  values: T,
  options: { description?: string; default?: T[number] } = {},
) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

const closed = { additionalProperties: false } as const;

/** CPM prices and budgets: whole micros the core accepts (core/money.ts MAX_MICROS). */
const Micros = (options: { description?: string } = {}) =>
  Type.Integer({ minimum: 1, maximum: MAX_MICROS, ...options });

export const PacingModeSchema = StringEnum(PACING_MODES);

const Clock = Type.String({
  description: 'Time of day, HH:MM (24 h) in UTC.',
  pattern: '^([01]\\d|2[0-4]):[0-5]\\d$',
});

export const RangeSchema = Type.Object(
  { min: Type.Number({ exclusiveMinimum: 0 }), max: Type.Number({ exclusiveMinimum: 0 }) },
  closed,
);

const Hours24 = <T extends TSchema>(item: T, description?: string) =>
  Type.Array(item, { minItems: 24, maxItems: 24, ...(description && { description }) });

/** The core's campaign rule for ADAPTIVE weights (core/campaign.ts): 0 to 1000 each. */
const HourlyMultipliers = Hours24(
  Type.Number({ minimum: 0, maximum: MAX_HOURLY_MULTIPLIER }),
  `ADAPTIVE weight of each hour of the campaign's local day (24 equal parts on a 23 or 25 hour day), 0 to ${MAX_HOURLY_MULTIPLIER}, at least one above 0.`,
);

/** Checked against the runtime's IANA database in sim/scenario.ts, with the core's campaign rule. */
const TimeZone = (description: string) =>
  Type.String({ description, minLength: 1, maxLength: 64, default: 'UTC' });

const MultipliersFile = Type.String({
  description:
    "ADAPTIVE hourly multipliers from a tuner's multipliers.json (or any JSON with hourlyMultipliers or hourly_multipliers), relative to the scenario file.",
  minLength: 1,
});

const Column = Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1 })], {
  description: 'Zero-based column index, or a header name when header is true.',
});

/** An optional `item` per pacing mode, nothing else. */
const PerMode = <T extends TSchema>(item: T, options: { description?: string } = {}) =>
  Type.Object(
    Object.fromEntries(PACING_MODES.map((m) => [m, Type.Optional(item)])) as unknown as {
      [K in PacingMode]: TOptional<T>;
    },
    { ...closed, ...options },
  );

export const InstancesSchema = Type.Object(
  {
    count: Type.Optional(Type.Integer({ minimum: 1, maximum: 64, default: 1 })),
    syncIntervalMs: Type.Optional(Type.Integer({ minimum: 10, maximum: 600_000, default: 1000 })),
    leaseHorizonMs: Type.Optional(Type.Integer({ minimum: 1000, default: 300_000 })),
    minLeaseShare: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.002 })),
  },
  { ...closed, default: {} },
);

export const PacerOverridesSchema = Type.Object(
  {
    tickMs: Type.Optional(Type.Integer({ minimum: 1000 })),
    catchUpTicks: Type.Optional(Type.Number({ minimum: 1 })),
    rateHalfLifeMs: Type.Optional(Type.Integer({ minimum: 1 })),
    reservationTtlMs: Type.Optional(Type.Integer({ minimum: 1000 })),
    degradedThrottle: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    dualStepSize: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    dualLambdaMax: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
    breaker: Type.Optional(
      Type.Object(
        {
          mode: Type.Optional(
            StringEnum(['precision', 'classic'] as const, {
              description:
                'precision (default): bids whose reservation fits keep flowing, trips on overspend risk only; classic: trips at tripRatio, cool-down, probes.',
            }),
          ),
          floodShare: Type.Optional(
            Type.Number({
              description:
                'precision: spend of late notices whose reservation expired, per cool-down, that trips the breaker (share of the budget).',
              exclusiveMinimum: 0,
            }),
          ),
          tripRatio: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
          cooldownMs: Type.Optional(Type.Integer({ minimum: 0 })),
          probeCount: Type.Optional(Type.Integer({ minimum: 1 })),
          recoveredThrottle: Type.Optional(Type.Number({ minimum: 0, exclusiveMaximum: 1 })),
        },
        closed,
      ),
    ),
  },
  { ...closed, default: {}, description: "Overrides of the core's pacer config (core/config.ts)." },
);

export const SurgeSchema = Type.Object(
  { from: Clock, to: Clock, multiplier: Type.Number({ minimum: 0, maximum: 1000 }) },
  closed,
);

export const MarketPriceSchema = Type.Object(
  {
    medianCpmMicros: Micros(),
    sigma: Type.Number({ minimum: 0, maximum: 5 }),
    maxCpmMicros: Type.Optional(
      Micros({ description: 'Cap of the price, at least the median; default 20 x the median.' }),
    ),
  },
  { ...closed, description: 'Lognormal market price (highest competing CPM), capped.' },
);

export const CtrSchema = Type.Object(
  {
    median: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 0.001 })),
    sigma: Type.Optional(Type.Number({ minimum: 0, maximum: 5, default: 0.5 })),
  },
  {
    ...closed,
    default: {},
    description:
      'Lognormal predicted click-through rate per request; a win is clicked with that probability.',
  },
);

export const SyntheticStreamSchema = Type.Object(
  {
    kind: Type.Literal('synthetic'),
    meanQps: Type.Number({ exclusiveMinimum: 0, maximum: 1_000_000 }),
    hourlyProfile: Type.Optional(
      Hours24(Type.Number({ minimum: 0 }), 'Relative traffic of each UTC hour; a typical day by default.'),
    ),
    surges: Type.Optional(Type.Array(SurgeSchema, { default: [] })),
    marketPrice: MarketPriceSchema,
    ctr: Type.Optional(CtrSchema),
  },
  closed,
);

export const RecordedStreamSchema = Type.Object(
  {
    kind: Type.Literal('recorded'),
    path: Type.String({ description: 'Relative to the scenario file.', minLength: 1 }),
    preset: Type.Optional(StringEnum(['ipinyou'] as const)),
    delimiter: Type.Optional(StringEnum([',', '\t', ';', '|'] as const)),
    header: Type.Optional(Type.Boolean({ default: false })),
    order: Type.Optional(
      StringEnum(['log', 'shuffled'] as const, {
        description:
          'log (default): rows of an hour in log order; shuffled: a seeded permutation within each hour (needs an hour column).',
        default: 'log',
      }),
    ),
    priceMicrosPerUnit: Type.Optional(
      Type.Number({
        description: 'Micros of CPM per unit of the price column (iPinYou: fen = 10000).',
        exclusiveMinimum: 0,
      }),
    ),
    columns: Type.Optional(
      Type.Object(
        {
          marketPrice: Column,
          click: Type.Optional(Column),
          pctr: Type.Optional(Column),
          hour: Type.Optional(
            Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1 })], {
              description:
                'Hour of day (0..23), or an hour counter (hour of day = value mod 24, day = value div 24). Rows are replayed sorted by it.',
            }),
          ),
          timeMs: Type.Optional(Column),
        },
        closed,
      ),
    ),
  },
  closed,
);

export const PacerLogStreamSchema = Type.Object(
  {
    kind: Type.Literal('pacer-log'),
    path: Type.String({
      description:
        "The server's traffic recording (its RECORD_DIR, or one .ndjson.gz file of it), relative to the scenario file. Decision rows inside the scenario's days replay for the campaigns the scenario lists; market prices come from the recorded wins where the server's bid won and from a lognormal fitted on the recording where it did not.",
      minLength: 1,
    }),
  },
  closed,
);

/**
 * `kind` picks the branch (if/then/else rather than anyOf, so an error names the field of the
 * stream kind given, not every field of every kind).
 */
const StreamSchema = Type.Unsafe<
  | Static<typeof SyntheticStreamSchema>
  | Static<typeof RecordedStreamSchema>
  | Static<typeof PacerLogStreamSchema>
>({
  type: 'object',
  required: ['kind'],
  properties: { kind: { type: 'string', enum: ['synthetic', 'recorded', 'pacer-log'] } },
  if: { properties: { kind: { const: 'synthetic' } } },
  // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keyword.
  then: SyntheticStreamSchema,
  else: {
    if: { properties: { kind: { const: 'pacer-log' } } },
    // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then/else keyword.
    then: PacerLogStreamSchema,
    else: RecordedStreamSchema,
  },
});

export const CampaignSpecSchema = Type.Object(
  {
    id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$' }),
    name: Type.Optional(Type.String()),
    dailyBudgetMicros: Micros(),
    pacingMode: Type.Optional(PacingModeSchema),
    bidCpmMicros: Micros(),
    maxBidCpmMicros: Type.Optional(Micros()),
    participation: Type.Number({
      description: 'Probability that the campaign is a candidate for a bid request (targeting match).',
      exclusiveMinimum: 0,
      maximum: 1,
    }),
    constrained: Type.Optional(
      Type.Boolean({
        description: 'Declared budget-constrained: full-pass spend exceeds the budget. Default true.',
      }),
    ),
    timeZone: Type.Optional(
      TimeZone(
        "IANA time zone of the campaign's day (e.g. America/New_York): its days, hour buckets, roll-over and scores follow local midnight, 23 or 25 hours across a DST change.",
      ),
    ),
    hourlyMultipliers: Type.Optional(HourlyMultipliers),
    hourlyMultipliersFile: Type.Optional(MultipliersFile),
  },
  closed,
);

export const CampaignGeneratorSchema = Type.Object(
  {
    count: Type.Integer({ minimum: 1, maximum: 10_000 }),
    seed: Type.Optional(Type.Integer({ minimum: 0 })),
    idPrefix: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,40}$' })),
    budgetMicros: RangeSchema,
    bidCpmMicros: RangeSchema,
    fullPassToBudget: Type.Object(RangeSchema.properties, {
      ...closed,
      description:
        'Expected full-pass spend over a day / daily budget, drawn log-uniformly; sets participation.',
    }),
    unconstrained: Type.Optional(
      Type.Object(
        { share: Type.Number({ minimum: 0, maximum: 1 }), fullPassToBudget: RangeSchema },
        {
          ...closed,
          description: 'Share of campaigns whose full-pass spend stays under budget, and their ratio range.',
        },
      ),
    ),
    modes: Type.Optional(
      PerMode(Type.Number({ minimum: 0 }), {
        description: 'Weights of the pacing modes in the mix (used when the run does not override the mode).',
      }),
    ),
    adaptiveMultipliers: Type.Optional(
      StringEnum(['traffic', 'flat'] as const, {
        description: "ADAPTIVE hourly multipliers: the stream's expected traffic share per hour, or flat.",
      }),
    ),
    hourlyMultipliersFile: Type.Optional(MultipliersFile),
    timeZone: Type.Optional(TimeZone("IANA time zone of every generated campaign's day.")),
  },
  closed,
);

const CampaignsSchema = Type.Object(
  {
    list: Type.Optional(Type.Array(CampaignSpecSchema, { minItems: 1 })),
    generate: Type.Optional(CampaignGeneratorSchema),
  },
  { ...closed, minProperties: 1, maxProperties: 1 },
);

export const WinNoticesSchema = Type.Object(
  {
    medianDelayMs: Type.Optional(Type.Number({ minimum: 0, default: 500 })),
    sigma: Type.Optional(Type.Number({ minimum: 0, maximum: 5, default: 0.8 })),
    lateShare: Type.Optional(Type.Number({ minimum: 0, maximum: 1, default: 0 })),
    lateDelayMsMin: Type.Optional(Type.Number({ minimum: 0, default: 30_000 })),
    lateDelayMsMax: Type.Optional(Type.Number({ minimum: 0, default: 300_000 })),
  },
  {
    ...closed,
    default: {},
    description: 'Delay from auction to win notice: lognormal body plus a uniform late tail.',
  },
);

export const OutageSchema = Type.Object(
  {
    day: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
    at: Clock,
    durationMs: Type.Integer({ minimum: 1 }),
  },
  closed,
);

const LatencyInputSchema = Type.Object(
  {
    fromMs: Type.Optional(Type.Integer({ minimum: 0 })),
    toMs: Type.Optional(Type.Integer({ minimum: 1 })),
    meanMs: Type.Integer({ minimum: 1 }),
    jitterMs: Type.Optional(Type.Integer({ minimum: 0, default: 0 })),
  },
  {
    ...closed,
    description:
      "Store round trips take time: each store call's answer reaches the instance after meanMs +/- jitterMs (uniform, seeded) of simulated time, within [fromMs, toMs) of the run (default: the whole run).",
  },
);

const RestartInputSchema = Type.Object(
  {
    instance: Type.Integer({ minimum: 0 }),
    day: Type.Optional(Type.Integer({ minimum: 0 })),
    at: Type.Optional(Clock),
    atMs: Type.Optional(Type.Integer({ minimum: 0 })),
    downForMs: Type.Integer({ minimum: 1 }),
  },
  closed,
);

const FaultsSchema = Type.Object(
  {
    outages: Type.Optional(Type.Array(OutageSchema, { default: [] })),
    latency: Type.Optional(LatencyInputSchema),
    restarts: Type.Optional(
      Type.Array(RestartInputSchema, {
        default: [],
        description:
          'Instance crashes: the instance stops at the given time (give `at` with an optional `day`, or `atMs` from the start of the run), loses its in-memory state, and comes back after `downForMs` as a new instance with the same id and journal.',
      }),
    ),
  },
  { ...closed, default: {} },
);

export const ThresholdsSchema = Type.Object(
  {
    maxOverspentCampaignDays: Type.Optional(Type.Integer({ minimum: 0 })),
    minUtilisationConstrained: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    maxSpendLostMicros: Type.Optional(Type.Integer({ minimum: 0 })),
    minAccuracy: Type.Optional(PerMode(Type.Number({ minimum: 0, maximum: 1 }))),
  },
  { ...closed, default: {}, description: 'Scores a run must reach; the CLI exits 1 when one is missed.' },
);

export const ScenarioSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    description: Type.Optional(Type.String({ default: '' })),
    seed: Type.Integer({ minimum: 0, maximum: 4_294_967_295 }),
    startDate: Type.Optional(
      Type.String({
        description: "Calendar date of the first simulated day, in each campaign's time zone.",
        pattern: '^\\d{4}-\\d{2}-\\d{2}$',
        default: '2024-03-15',
      }),
    ),
    days: Type.Optional(Type.Integer({ minimum: 1, maximum: 7, default: 1 })),
    algorithms: Type.Array(PacingModeSchema, { minItems: 1, uniqueItems: true }),
    instances: Type.Optional(InstancesSchema),
    pacer: Type.Optional(PacerOverridesSchema),
    stream: StreamSchema,
    bidding: Type.Optional(
      Type.Object(
        {
          kind: Type.Optional(
            StringEnum(['fixed', 'linear_ctr'] as const, {
              description:
                'fixed: each campaign bids its bidCpmMicros; linear_ctr: bidCpmMicros x pctr / baseCtr.',
              default: 'fixed',
            }),
          ),
          baseCtr: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, default: 0.001 })),
          valueSignal: Type.Optional(
            StringEnum(['pctr', 'none'] as const, {
              description:
                "pctr (default): each request's predicted CTR is its value signal, and a throttled campaign passes its best requests; none: a coin decides which requests pass.",
              default: 'pctr',
            }),
          ),
        },
        { ...closed, default: {} },
      ),
    ),
    market: Type.Optional(
      Type.Object(
        {
          pricing: Type.Optional(StringEnum(['second', 'first'] as const, { default: 'second' })),
          candidates: Type.Optional(
            StringEnum(['participation', 'all'] as const, {
              default: 'participation',
              description:
                'Which campaigns bid on a request: each with its participation probability (a targeting match), or all of them on every request (a marketplace where every campaign competes).',
            }),
          ),
        },
        { ...closed, default: {} },
      ),
    ),
    winNotices: Type.Optional(WinNoticesSchema),
    campaigns: CampaignsSchema,
    faults: Type.Optional(FaultsSchema),
    thresholds: Type.Optional(ThresholdsSchema),
    targeting: Type.Optional(SimTargetingSchema),
  },
  closed,
);

export type ScenarioInput = Static<typeof ScenarioSchema>;

/** The shipped JSON Schema document: the TypeBox schema as plain JSON, with a title and an $id. */
export function scenarioJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://budget-pacer.example/scenario.schema.json',
    title: 'Budget pacer simulation scenario',
    ...(JSON.parse(JSON.stringify(ScenarioSchema)) as Record<string, unknown>),
  };
}

/** The file's exact bytes (generated: Biome leaves it alone, see biome.json). */
export function scenarioSchemaText(): string {
  return `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
}
