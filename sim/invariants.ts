import { BREAKER_STATES, type PacingState, budgetLimitMicros, dayCommittedMicros } from '../core/index';
import type { Fleet } from './fleet';

/** A broken invariant: a bug in the core or the engine, never an expected outcome. */
export class SimInvariantError extends Error {
  readonly code = 'SIM_ERR_INVARIANT';
  constructor(message: string) {
    super(message);
    this.name = 'SimInvariantError';
  }
}

/** What one event of a run was: enough to find it again when an invariant breaks after it. */
export interface SimEvent {
  /** 1-based: requests and scheduled events alike, in the order handled. */
  seq: number;
  kind: SimEventKind;
  atMs: number;
  /** The instance it concerns (the one that decided or booked), or -1 for the whole fleet. */
  instance: number;
  /** The campaign it concerns (a win notice), or -1. */
  campaign: number;
}

export type SimEventKind =
  | 'request'
  | 'winNotice'
  | 'sync'
  | 'minute'
  | 'outageStart'
  | 'outageEnd'
  | 'reconcileCheck'
  | 'instanceDown'
  | 'instanceUp'
  | 'storeReply';

/** Cheap invariants of one campaign's state; null when they hold. */
export function stateProblem(s: PacingState): string | null {
  const l = s.ledger;
  const id = s.campaign.id;
  if (l.ownDaySpentMicros < 0 || l.peerDaySpentMicros < 0 || l.ownTotalSpentMicros < 0)
    return `${id}: negative spend`;
  if (l.reservedMicros < -0.5) return `${id}: negative reservation ${l.reservedMicros}`;
  if (!(s.passRate >= 0 && s.passRate <= 1)) return `${id}: pass rate ${s.passRate} outside [0, 1]`;
  if (!BREAKER_STATES.includes(s.breaker.state)) return `${id}: breaker state ${s.breaker.state}`;
  return null;
}

/**
 * Right after an allowed bid: its reservation fits the day's budget and the instance's leases
 * (decide() promises both; nothing else of the same request touches that campaign but its own
 * release, which only lowers them).
 */
export function allowedProblem(s: PacingState): string | null {
  const l = s.ledger;
  const committed = dayCommittedMicros(l);
  const limit = budgetLimitMicros(s);
  if (committed > limit + 0.5)
    return `${s.campaign.id}: allowed a bid past its budget (${committed} > ${limit})`;
  const own = l.ownDaySpentMicros + l.reservedMicros;
  if (own > s.ownAllowanceMicros + 0.5)
    return `${s.campaign.id}: allowed a bid past its lease (${own} > ${s.ownAllowanceMicros})`;
  return null;
}

/** What the invariant checks need from the event just handled, besides the fleet. */
export interface EventFacts {
  /** Campaigns decided for the last request, and how many; the first `allowed` of `allowedC` bid. */
  readonly decidedC: Int32Array;
  readonly decided: number;
  readonly allowedC: Int32Array;
  readonly allowed: number;
  /** The last auction's charge and the reservation it settles (0 when nothing was won). */
  readonly chargeMicros: number;
  readonly reservedMicros: number;
}

/**
 * Invariants asserted after every event (TigerBeetle's habit), on what the event touched: the
 * campaigns a request decided for, the campaign a notice booked, an instance after its sync,
 * the whole fleet after faults and at each minute. Costs a few checks per event, so test runs
 * keep it on; a broken one names the event that broke it.
 */
export class InvariantChecker {
  private lastAtMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly fleet: Fleet) {}

  /** `bookedInto`: the instance a win notice event booked into, -1 when it was held. */
  afterEvent(e: SimEvent, facts: EventFacts, bookedInto: number): void {
    if (e.atMs < this.lastAtMs) this.fail(e, `time ran backwards from ${this.lastAtMs}`);
    this.lastAtMs = e.atMs;
    const fleet = this.fleet;
    switch (e.kind) {
      case 'request': {
        if (e.instance < 0) return;
        const states = fleet.states[e.instance]!;
        for (let j = 0; j < facts.decided; j++) this.state(e, states[facts.decidedC[j]!]!);
        for (let j = 0; j < facts.allowed; j++) {
          const problem = allowedProblem(states[facts.allowedC[j]!]!);
          if (problem !== null) this.fail(e, problem);
        }
        if (facts.chargeMicros > facts.reservedMicros)
          this.fail(e, `charged ${facts.chargeMicros} for a bid that reserved ${facts.reservedMicros}`);
        return;
      }
      case 'winNotice':
        if (bookedInto >= 0) this.state(e, fleet.states[bookedInto]![e.campaign]!);
        return;
      case 'sync':
        if (fleet.up[e.instance] === 1) this.instance(e, e.instance);
        this.leases(e);
        return;
      default:
        for (let i = 0; i < fleet.count; i++) if (fleet.up[i] === 1) this.instance(e, i);
        this.leases(e);
    }
  }

  private instance(e: SimEvent, i: number): void {
    for (const s of this.fleet.states[i]!) this.state(e, s);
  }

  private state(e: SimEvent, s: PacingState): void {
    const problem = stateProblem(s);
    if (problem !== null) this.fail(e, problem);
  }

  /** The store never leases a campaign-day more than its budget, over every instance up. */
  private leases(e: SimEvent): void {
    const fleet = this.fleet;
    const nC = fleet.states[0]!.length;
    for (let c = 0; c < nC; c++) {
      let dayKey = '';
      for (let i = 0; i < fleet.count; i++)
        if (fleet.up[i] === 1) {
          const k = fleet.states[i]![c]!.ledger.day.key;
          if (k > dayKey) dayKey = k;
        }
      let leased = 0;
      let budget = 0;
      for (let i = 0; i < fleet.count; i++) {
        if (fleet.up[i] === 0) continue;
        const s = fleet.states[i]![c]!;
        if (s.ledger.day.key !== dayKey || !Number.isFinite(s.ownAllowanceMicros)) continue;
        leased += s.ownAllowanceMicros;
        budget = s.campaign.dailyBudgetMicros;
      }
      if (leased > budget + 0.5)
        this.fail(e, `${fleet.states[0]![c]!.campaign.id}: leases ${leased} past budget ${budget}`);
    }
  }

  private fail(e: SimEvent, problem: string): never {
    const at = new Date(e.atMs).toISOString();
    const where = e.instance >= 0 ? ` on instance ${e.instance}` : '';
    throw new SimInvariantError(`${problem}, after event #${e.seq} (${e.kind} at ${at}${where})`);
  }
}
