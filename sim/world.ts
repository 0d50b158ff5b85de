import { dirname, resolve } from 'node:path';
import { DAY_MS, DEFAULT_PACER_CONFIG, type PacerConfig, pacerConfig } from '../core/index';
import { type SimCampaign, buildCampaigns } from './campaigns';
import { type Scenario, minutesOf } from './scenario';
import { pacerLogStream } from './sources/pacerLog';
import { recordedStream } from './sources/recorded';
import type { StreamFactory } from './sources/source';
import { syntheticStream } from './sources/synthetic';
import { checkExpectedWork } from './workBound';

/** A scenario compiled for running: the stream, the campaigns, the windows, the pacer config. */
export interface World {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly days: number;
  readonly stream: StreamFactory;
  readonly campaigns: readonly SimCampaign[];
  /** Store outage windows, [startMs, endMs), sorted. */
  readonly outages: readonly (readonly [number, number])[];
  /** Instance crashes in simulated time, sorted by `downMs`; the instance is back at `upMs`. */
  readonly restarts: readonly InstanceRestart[];
  readonly config: PacerConfig;
}

export interface InstanceRestart {
  readonly instance: number;
  readonly downMs: number;
  readonly upMs: number;
}

/**
 * The stream, then the campaigns planned on it; a production replay then binds its rows to the
 * campaigns the scenario lists (each recorded decision asks its own campaign).
 */
function streamAndCampaigns(
  scenario: Scenario,
  startMs: number,
  days: number,
): { stream: StreamFactory; campaigns: SimCampaign[] } {
  const s = scenario.stream;
  const abs = (path: string) => resolve(scenario.sourcePath ? dirname(scenario.sourcePath) : '.', path);
  if (s.kind === 'pacer-log') {
    const log = pacerLogStream(s, abs(s.path), startMs, days);
    const campaigns = buildCampaigns(scenario, log.plan);
    return { stream: log.bind(campaigns.map((c) => c.id)), campaigns };
  }
  const stream =
    s.kind === 'synthetic'
      ? syntheticStream(s, startMs, days)
      : recordedStream(s, abs(s.path), startMs, days);
  if (s.kind === 'synthetic') checkExpectedWork(stream.plan, scenario.sourcePath ?? scenario.name);
  return { stream, campaigns: buildCampaigns(scenario, stream.plan) };
}

export function buildWorld(scenario: Scenario, seed = scenario.seed): World {
  const startMs = Date.parse(`${scenario.startDate}T00:00:00Z`);
  const days = scenario.days;
  const { stream, campaigns } = streamAndCampaigns(scenario, startMs, days);
  const outages = scenario.faults.outages
    .map((o) => {
      const a = startMs + o.day * DAY_MS + minutesOf(o.at) * 60_000;
      return [a, a + o.durationMs] as const;
    })
    .sort((x, y) => x[0] - y[0]);
  const restarts = scenario.faults.restarts.map((r) =>
    Object.freeze({ instance: r.instance, downMs: startMs + r.atMs, upMs: startMs + r.atMs + r.downForMs }),
  );
  const p = scenario.pacer;
  const config = pacerConfig({
    ...(p.tickMs !== undefined && { tickMs: p.tickMs }),
    ...(p.catchUpTicks !== undefined && { catchUpTicks: p.catchUpTicks }),
    ...(p.rateHalfLifeMs !== undefined && { rateHalfLifeMs: p.rateHalfLifeMs }),
    ...(p.reservationTtlMs !== undefined && { reservationTtlMs: p.reservationTtlMs }),
    ...(p.degradedThrottle !== undefined && { degradedThrottle: p.degradedThrottle }),
    ...(p.dualStepSize !== undefined && { dualStepSize: p.dualStepSize }),
    ...(p.dualLambdaMax !== undefined && { dualLambdaMax: p.dualLambdaMax }),
    ...(p.breaker !== undefined && {
      breaker: Object.freeze({ ...DEFAULT_PACER_CONFIG.breaker, ...p.breaker }),
    }),
  });
  return Object.freeze({
    scenario,
    seed,
    startMs,
    endMs: startMs + days * DAY_MS,
    days,
    stream,
    campaigns: Object.freeze(campaigns.map((c) => Object.freeze(c))),
    outages,
    restarts,
    config,
  });
}
