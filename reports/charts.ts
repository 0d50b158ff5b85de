import type { RunReport } from '../sim/result';

/** Vega-Lite specs of the report's charts, built from a run's series. Time is hours since the start. */
// biome-ignore lint/suspicious/noExplicitAny: Vega-Lite specs are plain JSON.
export type VlSpec = Record<string, any>;

const WIDTH = 760;
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v5.json';

function hoursAt(result: RunReport, i: number): number {
  return ((i + 1) * result.series.stepMinutes) / 60;
}

function windows(result: RunReport): { from: number; to: number; kind: string }[] {
  const h = (ms: number) => (ms - result.series.startMs) / 3_600_000;
  return [
    ...result.series.surges.map(([a, b, m]) => ({ from: h(a), to: h(b), kind: `surge x${m}` })),
    ...result.series.outages.map(([a, b]) => ({ from: h(a), to: h(b), kind: 'store outage' })),
  ];
}

const WINDOW_COLORS = { domain: ['surge', 'store outage'], range: ['#f6c28b', '#e45756'] };

function shading(result: RunReport): VlSpec[] {
  const w = windows(result).map((x) => ({ ...x, kind: x.kind.startsWith('surge') ? 'surge' : x.kind }));
  if (w.length === 0) return [];
  return [
    {
      data: { values: w },
      mark: { type: 'rect', opacity: 0.25 },
      encoding: {
        x: { field: 'from', type: 'quantitative' },
        x2: { field: 'to' },
        color: { field: 'kind', type: 'nominal', scale: WINDOW_COLORS, title: 'window' },
      },
    },
  ];
}

/** Hours the run spans: `days` UTC days, or more when campaigns in other zones widen it. */
function runHours(result: RunReport): number {
  return (result.series.requestsPerSecond.length * result.series.stepMinutes) / 60;
}

const hourAxis = (hours: number) => ({
  field: 'hour',
  type: 'quantitative',
  title: 'hours since the run start (its earliest local midnight)',
  scale: { domain: [0, hours], nice: false },
  axis: { tickCount: Math.ceil(hours / 2) },
});

export function cumulativeSpendSpec(result: RunReport): VlSpec {
  const values: unknown[] = [];
  for (const a of result.series.algorithms) {
    a.spendShare.forEach((v, i) => {
      values.push({ hour: hoursAt(result, i), algorithm: a.algorithm, series: 'actual', share: v });
    });
    a.targetShare.forEach((v, i) => {
      values.push({ hour: hoursAt(result, i), algorithm: a.algorithm, series: 'target', share: v });
    });
  }
  return {
    $schema: SCHEMA,
    title: 'Cumulative spend vs target (all campaigns, share of total budget)',
    width: WIDTH,
    height: 260,
    data: { values },
    mark: { type: 'line', strokeWidth: 1.6 },
    encoding: {
      x: hourAxis(runHours(result)),
      y: { field: 'share', type: 'quantitative', title: 'share of budget', axis: { format: '%' } },
      color: { field: 'algorithm', type: 'nominal' },
      strokeDash: {
        field: 'series',
        type: 'nominal',
        scale: {
          domain: ['actual', 'target'],
          range: [
            [1, 0],
            [4, 3],
          ],
        },
      },
      detail: { field: 'series' },
    },
  };
}

export function spendPerHourSpec(result: RunReport): VlSpec {
  const values: unknown[] = [];
  for (const a of result.series.algorithms)
    a.spendPerHourMicros.forEach((v, h) => {
      values.push({ hour: h, algorithm: a.algorithm, spend: v / 1_000_000 });
    });
  return {
    $schema: SCHEMA,
    title: 'Spend per hour (currency units, all campaigns)',
    width: WIDTH,
    height: 220,
    data: { values },
    mark: { type: 'bar' },
    encoding: {
      x: { field: 'hour', type: 'ordinal', title: 'hour of the run' },
      xOffset: { field: 'algorithm', type: 'nominal' },
      y: { field: 'spend', type: 'quantitative', title: 'spend' },
      color: { field: 'algorithm', type: 'nominal' },
    },
  };
}

type AlgorithmSeries = RunReport['series']['algorithms'][number];

/** One line per algorithm over the hours of the run, with surge and outage windows shaded. */
function perAlgorithmLineSpec(
  result: RunReport,
  chart: {
    title: string;
    height: number;
    field: string;
    axisTitle: string;
    pick: (a: AlgorithmSeries) => readonly number[];
    domain?: [number, number];
    step?: boolean;
  },
): VlSpec {
  const values: unknown[] = [];
  for (const a of result.series.algorithms)
    chart.pick(a).forEach((v, i) => {
      values.push({ hour: hoursAt(result, i), algorithm: a.algorithm, [chart.field]: v });
    });
  return {
    $schema: SCHEMA,
    title: chart.title,
    width: WIDTH,
    height: chart.height,
    layer: [
      ...shading(result),
      {
        data: { values },
        mark: chart.step
          ? { type: 'line', strokeWidth: 1.4, interpolate: 'step-after' }
          : { type: 'line', strokeWidth: 1.4 },
        encoding: {
          x: hourAxis(runHours(result)),
          y: {
            field: chart.field,
            type: 'quantitative',
            title: chart.axisTitle,
            ...(chart.domain ? { scale: { domain: chart.domain } } : {}),
          },
          stroke: { field: 'algorithm', type: 'nominal', legend: { title: 'algorithm' } },
        },
      },
    ],
    resolve: { scale: { color: 'independent' } },
  };
}

export function throttleSpec(result: RunReport): VlSpec {
  return perAlgorithmLineSpec(result, {
    title: 'Mean throttle rate over campaigns',
    height: 200,
    field: 'throttle',
    axisTitle: 'throttle rate',
    pick: (a) => a.meanThrottle,
    domain: [0, 1],
  });
}

export function breakerSpec(result: RunReport): VlSpec {
  return perAlgorithmLineSpec(result, {
    title: 'Breakers OPEN (campaigns x instances), at each 5-minute step',
    height: 200,
    field: 'open',
    axisTitle: 'breakers OPEN',
    pick: (a) => a.breakerOpen,
    step: true,
  });
}

export function degradedSpec(result: RunReport): VlSpec {
  return perAlgorithmLineSpec(result, {
    title: `Pacer instances in degraded mode (of ${result.summary.scenario.instances}), store outages shaded`,
    height: 120,
    field: 'degraded',
    axisTitle: 'instances',
    pick: (a) => a.degradedInstances,
    domain: [0, result.summary.scenario.instances],
    step: true,
  });
}

export function trafficSpec(result: RunReport): VlSpec {
  const values = result.series.requestsPerSecond.map((v, i) => ({ hour: hoursAt(result, i), rps: v }));
  return {
    $schema: SCHEMA,
    title: 'Traffic (bid requests per second), surge and outage windows shaded',
    width: WIDTH,
    height: 180,
    layer: [
      ...shading(result),
      {
        data: { values },
        mark: { type: 'area', opacity: 0.7, color: '#4c78a8', line: true },
        encoding: {
          x: hourAxis(runHours(result)),
          y: { field: 'rps', type: 'quantitative', title: 'requests/s' },
        },
      },
    ],
  };
}

/**
 * Each time zone's pacing over its own local days: cumulative spend of its campaigns against their
 * target, by hour of the local day, so a 23 or 25 hour DST day shows its real length.
 */
export function localDaysSpec(result: RunReport): VlSpec {
  const values: unknown[] = [];
  for (const z of result.series.localDays) {
    const day = `${z.timeZone} ${z.date} (${z.spendShare.length} h)`;
    z.spendShare.forEach((v, h) => {
      values.push({ hour: h + 1, day, algorithm: z.algorithm, series: 'actual', share: v });
    });
    z.targetShare.forEach((v, h) => {
      values.push({ hour: h + 1, day, algorithm: z.algorithm, series: 'target', share: v });
    });
  }
  return {
    $schema: SCHEMA,
    title: "Each zone's local days: cumulative spend vs target (share of the zone's budget)",
    data: { values },
    facet: { row: { field: 'algorithm', type: 'nominal', title: null } },
    spec: {
      width: WIDTH - 160,
      height: 140,
      mark: { type: 'line', strokeWidth: 1.4 },
      encoding: {
        x: {
          field: 'hour',
          type: 'quantitative',
          title: 'hours since local midnight',
          scale: { domain: [0, 25], nice: false },
        },
        y: { field: 'share', type: 'quantitative', title: 'share of budget', axis: { format: '%' } },
        color: { field: 'day', type: 'nominal', title: 'zone, local day', legend: { labelLimit: 320 } },
        strokeDash: {
          field: 'series',
          type: 'nominal',
          scale: {
            domain: ['actual', 'target'],
            range: [
              [1, 0],
              [4, 3],
            ],
          },
        },
        detail: { field: 'series' },
      },
    },
  };
}
