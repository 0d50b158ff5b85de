import type { Notice, ProcessRef } from './ledger';
import { sameProcess } from './ledger';

/**
 * The term E of README's overspend bound, computed from what the client knows: the charge of every
 * acknowledged win whose reservation may not have been held when it was booked. Each notice is put
 * in the first class that applies; E per campaign is the sum of their charges.
 *
 *   late         acknowledged more than RESERVATION_TTL_MS after its decision
 *   decider-gone the deciding process was killed or stopped before the acknowledgement
 *   misrouted    booked by another process than the decider while a Redis fault was on (or within
 *                OUTAGE_MARGIN_MS after it, while instances heal)
 *   clock-step   the decider's clock was stepped forward between decision and acknowledgement (its
 *                reservations aged by the step), or up to CLOCK_STEP_LAG_MS before the decision
 *                (the server reads the step late): not in README's list; reported apart
 *
 * The times are the harness's own observations, so the classes are generous: a notice booked by a
 * first attempt that timed out and acknowledged by a later one is classed by the later one.
 */
export const OUTAGE_MARGIN_MS = 5000;
/**
 * A server reads its libfaketime offset at most FAKETIME_CACHE_DURATION (1 s) late: a decision the
 * harness saw just after it stepped a clock may have been made on the old clock.
 */
export const CLOCK_STEP_LAG_MS = 1500;

export type ExposureClass = 'late' | 'decider-gone' | 'misrouted' | 'clock-step';

export interface ObservedWindow {
  readonly startMs: number;
  readonly endMs: number;
}

export interface FaultObservations {
  /** When each process (slot, incarnation) ended: killed or stopped. */
  readonly processEnds: ReadonlyArray<{ readonly process: ProcessRef; readonly atMs: number }>;
  /** Windows in which Redis was killed, empty, hung or slowed. */
  readonly redisOutages: readonly ObservedWindow[];
  /** Forward clock steps: slot and time. */
  readonly forwardClockSteps: ReadonlyArray<{ readonly slot: number; readonly atMs: number }>;
}

export function classifyExposure(
  n: Notice,
  obs: FaultObservations,
  reservationTtlMs: number,
): ExposureClass | null {
  if (n.state !== 'acked' || n.ackedAtMs === null || n.ackedBy === null) return null;
  const from = n.decidedAtMs;
  const to = n.ackedAtMs;
  if (to - from > reservationTtlMs) return 'late';
  if (obs.processEnds.some((e) => sameProcess(e.process, n.decidedBy) && e.atMs <= to)) return 'decider-gone';
  if (
    !sameProcess(n.ackedBy, n.decidedBy) &&
    obs.redisOutages.some((w) => w.startMs <= to && from <= w.endMs + OUTAGE_MARGIN_MS)
  ) {
    return 'misrouted';
  }
  if (
    obs.forwardClockSteps.some(
      (s) => s.slot === n.decidedBy.slot && s.atMs + CLOCK_STEP_LAG_MS >= from && s.atMs <= to,
    )
  ) {
    return 'clock-step';
  }
  return null;
}

export interface CampaignExposure {
  readonly exposureMicros: number;
  readonly byClass: Readonly<Record<ExposureClass, number>>;
}

export function exposureByCampaign(
  notices: readonly Notice[],
  obs: FaultObservations,
  reservationTtlMs: number,
): Map<string, CampaignExposure> {
  const out = new Map<string, { exposureMicros: number; byClass: Record<ExposureClass, number> }>();
  for (const n of notices) {
    let e = out.get(n.campaignId);
    if (!e) {
      e = { exposureMicros: 0, byClass: { late: 0, 'decider-gone': 0, misrouted: 0, 'clock-step': 0 } };
      out.set(n.campaignId, e);
    }
    const cls = classifyExposure(n, obs, reservationTtlMs);
    if (cls === null) continue;
    e.exposureMicros += n.chargeMicros;
    e.byClass[cls] += n.chargeMicros;
  }
  return out;
}
