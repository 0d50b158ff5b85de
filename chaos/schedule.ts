import { type Fault, type FaultKind, REDIS_FAULTS, faultResource } from './faults';
import { intBetween, pick, streamRand } from './random';

/**
 * The fault schedule of one run, drawn from its seed alone: the same seed, traffic length,
 * instance count and fault list give the same schedule (test/chaos/schedule.test.ts).
 *
 * Faults start after the first tenth of the traffic phase (campaigns are warm, leases granted)
 * and all end by FAULTS_END_SHARE of it, so the last stretch of traffic runs on a healed system
 * before the invariants are checked. Faults on one resource (Redis, or one instance) never
 * overlap; faults on different resources may, which is where the interesting failures are
 * (an instance killed during a Redis outage, a disk filling while Redis is hung).
 */
export interface ScheduleOptions {
  readonly seed: number;
  readonly trafficMs: number;
  readonly instances: number;
  readonly faults: readonly FaultKind[];
}

export const FAULTS_START_SHARE = 0.1;
export const FAULTS_END_SHARE = 0.8;
/** Quiet time between two faults on one resource: a restart must be able to finish. */
const RESOURCE_GAP_MS = 1000;

/** Duration range per fault as shares of the traffic phase, and a floor in ms. */
const DURATION: Readonly<Record<FaultKind, readonly [number, number, number]>> = {
  'redis-kill': [0.05, 0.3, 1000],
  'redis-empty': [0, 0.2, 200],
  'redis-hang': [0.05, 0.25, 1000],
  'redis-slow': [0.1, 0.3, 1000],
  'instance-kill': [0.02, 0.2, 200],
  'disk-full': [0.1, 0.4, 1000],
  'clock-step': [0.1, 0.4, 1000],
  'duplicate-instance': [0.15, 0.4, 2000],
};

/** At most one fault per 5 s of traffic, at least one. */
export function maxFaults(trafficMs: number): number {
  return Math.max(1, Math.min(12, Math.round(trafficMs / 5000)));
}

function overlaps(a: Fault, b: Fault): boolean {
  return (
    a.startMs < b.startMs + b.durationMs + RESOURCE_GAP_MS &&
    b.startMs < a.startMs + a.durationMs + RESOURCE_GAP_MS
  );
}

function drawFault(rand: () => number, o: ScheduleOptions, kind: FaultKind): Fault {
  const windowStart = o.trafficMs * FAULTS_START_SHARE;
  const windowEnd = o.trafficMs * FAULTS_END_SHARE;
  const [lo, hi, floorMs] = DURATION[kind];
  const durationMs = Math.min(
    windowEnd - windowStart,
    Math.max(floorMs, Math.round(o.trafficMs * (lo + rand() * (hi - lo)))),
  );
  const startMs = Math.round(windowStart + rand() * (windowEnd - windowStart - durationMs));
  const instance = REDIS_FAULTS.has(kind) ? null : intBetween(rand, 0, o.instances - 1);
  const fault: Fault = { kind, startMs, durationMs, instance };
  if (kind !== 'clock-step') return fault;
  // Never 0, never a few ms: a step the size of NTP slew would test nothing.
  const magnitude = intBetween(rand, 5, 300);
  const clockStepS = rand() < 0.3 ? -Math.min(120, magnitude) : magnitude;
  return { ...fault, clockStepS };
}

export function generateSchedule(o: ScheduleOptions): Fault[] {
  if (o.faults.length === 0) return [];
  const rand = streamRand(o.seed, 'schedule');
  const count = intBetween(rand, 1, maxFaults(o.trafficMs));
  const out: Fault[] = [];
  for (let tries = 0; out.length < count && tries < count * 20; tries++) {
    const candidate = drawFault(rand, o, pick(rand, o.faults));
    const clash = out.some((f) => faultResource(f) === faultResource(candidate) && overlaps(f, candidate));
    if (!clash) out.push(candidate);
  }
  return out.sort((a, b) => a.startMs - b.startMs || faultResource(a).localeCompare(faultResource(b)));
}
