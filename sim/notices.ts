import type { PacerInstance, PacingMode } from '../core/index';
import type { SimClock } from './clock';
import { EVENT_KINDS, type EventQueue } from './eventQueue';
import type { Fleet } from './fleet';
import { type QuantileTable, type Rand, lognormalTable, randStream } from './random';
import type { Recorder } from './recorder';
import type { World } from './world';

/** A notice booked into an instance since its last sync: lost from it if it crashes. */
interface UnsafeNotice {
  readonly campaign: number;
  readonly eventNo: number;
  readonly spendMicros: number;
  /** Minute of the run it was booked in (where the tallies hold it). */
  readonly minute: number;
}

/** A notice that arrived while every instance was down. */
interface HeldNotice {
  readonly instance: number;
  readonly campaign: number;
  readonly eventNo: number;
  readonly spendMicros: number;
  readonly reservedMicros: number;
  readonly reservedAtMs: number;
}

/**
 * Win notices from auction to booking: each arrives after a drawn delay at the instance that
 * bid, or at the next one up when that one is down, or waits while all are down. Notices an
 * instance booked since its last sync are neither in the store nor in its journal: when it
 * crashes the exchange, never having had them acknowledged, delivers them again.
 */
export class NoticeRouter {
  winNotices = 0;
  lateNoticesAfterTtl = 0;
  noticesReservationLost = 0;
  noticesRetried = 0;
  /** Instance the last notice was booked into, -1 when it was held. */
  bookedInto = -1;
  private noticeSeq = 0;
  private readonly unsafe: UnsafeNotice[][];
  private readonly held: HeldNotice[] = [];
  private readonly delayRand: Rand;
  private readonly delayTable: QuantileTable;
  private readonly spec: World['scenario']['winNotices'];
  private readonly lateSpanMs: number;
  private readonly ttlMs: number;
  /** Unsafe notices matter only when instances crash; otherwise they are not kept. */
  private readonly tracksUnsafe: boolean;

  constructor(
    world: World,
    mode: PacingMode,
    private readonly q: EventQueue,
    private readonly fleet: Fleet,
    private readonly rec: Recorder,
    private readonly clock: SimClock,
  ) {
    const wn = world.scenario.winNotices;
    this.spec = wn;
    this.delayRand = randStream(world.seed, `delay/${mode}`);
    this.delayTable = lognormalTable(wn.medianDelayMs, wn.sigma, wn.medianDelayMs * 1000);
    this.lateSpanMs = wn.lateDelayMsMax - wn.lateDelayMsMin;
    this.ttlMs = world.config.reservationTtlMs;
    this.tracksUnsafe = world.restarts.length > 0;
    this.unsafe = Array.from({ length: fleet.count }, () => []);
  }

  /** Schedules the notice of a win by campaign `c` on instance `i` at `t`, after a drawn delay. */
  schedule(i: number, c: number, chargeMicros: number, reservedMicros: number, t: number): void {
    const wn = this.spec;
    const late = wn.lateShare > 0 && this.delayRand() < wn.lateShare;
    const delayMs = late
      ? wn.lateDelayMsMin + this.delayRand() * this.lateSpanMs
      : this.delayTable.sample(this.delayRand());
    const q = this.q;
    const slot = q.push(t + delayMs, EVENT_KINDS.winNotice);
    q.instance[slot] = i;
    q.campaign[slot] = c;
    q.spendMicros[slot] = chargeMicros;
    q.reservedMicros[slot] = reservedMicros;
    q.reservedAtMs[slot] = t;
  }

  /** A notice event popped from the queue arrives now. */
  arrive(slot: number, inOutage: boolean): void {
    const q = this.q;
    const c = q.campaign[slot]!;
    const spend = q.spendMicros[slot]!;
    const reservedAt = q.reservedAtMs[slot]!;
    if (this.clock.nowMs - reservedAt >= this.ttlMs) this.lateNoticesAfterTtl++;
    this.winNotices++;
    if (!this.deliver(q.instance[slot]!, c, this.noticeSeq++, spend, q.reservedMicros[slot]!, reservedAt))
      return;
    this.rec.noteArrival(c, this.clock.minute(), spend, inOutage);
  }

  /**
   * Books a notice into instance `i` if it is up, else into the next instance up; when none is,
   * holds it until one comes back. Returns false when it was held.
   */
  private deliver(
    i: number,
    c: number,
    eventNo: number,
    spend: number,
    reserved: number,
    reservedAt: number,
  ): boolean {
    const fleet = this.fleet;
    let target = i;
    if (fleet.up[i] === 0) {
      target = fleet.nextUp(i);
      if (target < 0) {
        this.bookedInto = -1;
        this.held.push({
          instance: i,
          campaign: c,
          eventNo,
          spendMicros: spend,
          reservedMicros: reserved,
          reservedAtMs: reservedAt,
        });
        return false;
      }
    }
    const nowMs = this.clock.nowMs;
    let r = reserved;
    if (target !== i || reservedAt < fleet.bornAtMs[i]!) {
      r = 0;
      this.noticesReservationLost++;
      this.rec.noteReservationLost(c, this.clock.minute(), spend);
    }
    fleet.instances[target]!.recordSpendState(
      fleet.states[target]![c]!,
      `w${eventNo}`,
      spend,
      r,
      reservedAt,
      nowMs,
    );
    this.bookedInto = target;
    if (this.tracksUnsafe)
      this.unsafe[target]!.push({ campaign: c, eventNo, spendMicros: spend, minute: this.clock.minute() });
    return true;
  }

  /** Instance `i` (incarnation `inst`) synced: what it booked before is applied or journaled, safe from a crash. */
  madeSafe(i: number, inst: PacerInstance): void {
    if (this.tracksUnsafe && inst.unsyncedRecords === 0) this.unsafe[i]!.length = 0;
  }

  /** Instance `i` crashed: the notices it had not made safe are delivered again, now. */
  redeliverUnsafe(i: number): void {
    const lost = this.unsafe[i]!.splice(0);
    for (const n of lost) {
      this.noticesRetried++;
      // The spend moves to the time it is booked again (possibly another day, or never-held).
      this.rec.tally(n.campaign, n.minute, n.spendMicros, -1);
      if (this.deliver(i, n.campaign, n.eventNo, n.spendMicros, 0, this.clock.nowMs))
        this.rec.tally(n.campaign, this.clock.minute(), n.spendMicros, 1);
    }
  }

  /** An instance is back: notices held while all were down are delivered. */
  deliverHeld(): void {
    for (const n of this.held.splice(0)) {
      this.deliver(n.instance, n.campaign, n.eventNo, n.spendMicros, n.reservedMicros, n.reservedAtMs);
      this.rec.tally(n.campaign, this.clock.minute(), n.spendMicros, 1);
    }
  }

  /** Notices waiting for an instance to come back. */
  get heldCount(): number {
    return this.held.length;
  }
}
