import type { Cluster, Slot } from './cluster';
import { type HttpOutcome, send } from './http';
import type { StatusSample } from './invariants';
import { type ClientLedger, type Notice, sameProcess } from './ledger';
import { type AuctionPlan, type CampaignPlan, chargeMicros, planAuction, retryRoll } from './trafficPlan';

/**
 * The simulated exchange: sends decisions and win notices the way exchanges do. A decision that
 * fails is a lost auction; a win notice is retried (timeouts, resets, 5xx, to the same or another
 * instance, with backoff) until some instance acknowledges it or the run's last deadline passes; a
 * 4xx is final, as an exchange would treat it. Some notices go to another instance than the decider,
 * some arrive past the reservation TTL, some are sent twice (at once, or after the acknowledgement).
 */
export interface ExchangeOptions {
  readonly seed: number;
  readonly apiKey: string;
  readonly reservationTtlMs: number;
  readonly workers: number;
  readonly rateQps: number;
  readonly decisionTimeoutMs: number;
  readonly noticeTimeoutMs: number;
}

interface Candidate {
  readonly campaign_id: string;
  readonly allow_bid: boolean;
  readonly max_bid_cents: number;
}

const MAX_BACKOFF_MS = 1000;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function errorCode(body: unknown): string {
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' ? code : 'no error code';
}

export class Exchange {
  private next = 0;
  private readonly inFlight = new Set<Promise<void>>();
  readonly statusSamples: StatusSample[] = [];
  readonly decisionAnswers = new Map<string, number>();
  /** After this, deliveries give up and leave their notice pending. */
  deliveryDeadlineMs = Number.POSITIVE_INFINITY;

  constructor(
    private readonly o: ExchangeOptions,
    private readonly cluster: Cluster,
    private readonly campaigns: readonly CampaignPlan[],
    readonly ledger: ClientLedger,
    private readonly nowMs: () => number,
    private readonly t0Ms: number,
  ) {}

  private pickTarget(roll: number, exclude?: Slot): Slot {
    const pool = this.cluster.targets().filter((s) => s !== exclude);
    const list = pool.length > 0 ? pool : this.cluster.targets();
    return list[Math.floor(roll * list.length)]!;
  }

  private countDecision(key: string): void {
    this.decisionAnswers.set(key, (this.decisionAnswers.get(key) ?? 0) + 1);
  }

  /** Auctions at about `rateQps` over `workers` loops until `untilMs`. */
  async runTraffic(untilMs: number): Promise<void> {
    const periodMs = (this.o.workers * 1000) / this.o.rateQps;
    const worker = async () => {
      while (this.nowMs() < untilMs) {
        const started = this.nowMs();
        await this.auction(planAuction(this.o, this.campaigns.length, this.next++));
        const restMs = periodMs - (this.nowMs() - started);
        if (restMs > 0) await sleep(restMs);
      }
    };
    await Promise.all(Array.from({ length: this.o.workers }, worker));
  }

  /** Waits for every delivery still retrying (late notices, duplicates, notices in an outage). */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
  }

  private async auction(plan: AuctionPlan): Promise<void> {
    const decider = this.pickTarget(plan.entryRoll);
    const ref = this.cluster.ref(decider);
    const decidedAtMs = this.nowMs();
    const winner = await this.decide(decider, plan);
    this.ledger.decisions++;
    if (winner === null) return;
    this.ledger.allowed++;
    if (!plan.wins) return;
    const notice = this.ledger.addNotice({
      eventId: plan.eventId,
      requestId: plan.requestId,
      campaignId: winner.campaign_id,
      chargeMicros: chargeMicros(winner.max_bid_cents, plan.chargeShare),
      decidedBy: ref,
      decidedAtMs,
    });
    const first = plan.misroute ? this.pickTarget(plan.misrouteRoll, decider) : decider;
    const delivery = (async () => {
      if (plan.lateDelayMs > 0) await sleep(plan.lateDelayMs);
      const dup = plan.duplicates[0];
      if (dup?.concurrent) {
        this.ledger.duplicatesSent++;
        await Promise.all([
          this.deliver(notice, first, plan.sticky),
          this.deliver(notice, this.pickTarget(dup.targetRoll), plan.sticky),
        ]);
        return;
      }
      await this.deliver(notice, first, plan.sticky);
      if (dup && notice.state === 'acked') {
        await sleep(dup.delayMs);
        this.ledger.duplicatesSent++;
        await this.deliver(notice, this.pickTarget(dup.targetRoll), plan.sticky, true);
      }
    })();
    this.track(delivery);
  }

  /** The allowed candidate the exchange would bid with (the first), or null. */
  private async decide(s: Slot, plan: AuctionPlan): Promise<Candidate | null> {
    const ids = plan.campaigns.map((i) => this.campaigns[i]!.id);
    const single = ids.length === 1;
    const res = await send('POST', `${s.url}/pacing/${single ? 'decision' : 'decisions'}`, {
      apiKey: this.o.apiKey,
      timeoutMs: this.o.decisionTimeoutMs,
      body: single
        ? { campaign_id: ids[0], bid_cents: plan.bidCents, request_id: plan.requestId }
        : {
            request_id: plan.requestId,
            candidates: ids.map((id) => ({ campaign_id: id, bid_cents: plan.bidCents })),
          },
    });
    if (res.kind !== 'answer') {
      this.countDecision(res.kind);
      this.ledger.decisionFailures++;
      return null;
    }
    this.countDecision(res.status === 200 ? '200' : `${res.status} ${errorCode(res.body)}`);
    if (res.status !== 200) {
      this.ledger.decisionFailures++;
      return null;
    }
    if (single) {
      const d = res.body as Candidate;
      return d.allow_bid ? { ...d, campaign_id: ids[0]! } : null;
    }
    const list = (res.body as { decisions: Candidate[] }).decisions;
    return list.find((d) => d.allow_bid) ?? null;
  }

  /**
   * Sends one notice until acknowledged, refused with a 4xx, or past the deadline. `duplicate`:
   * a resend of an acknowledged notice, whose 4xx says nothing about the spend.
   */
  private async deliver(n: Notice, first: Slot, sticky: boolean, duplicate = false): Promise<void> {
    let target = first;
    for (let attempt = 0; this.nowMs() < this.deliveryDeadlineMs; attempt++) {
      const ref = this.cluster.ref(target);
      n.attempts++;
      const res: HttpOutcome = await send('POST', `${target.url}/spend/track`, {
        apiKey: this.o.apiKey,
        timeoutMs: this.o.noticeTimeoutMs,
        body: {
          campaign_id: n.campaignId,
          spend_cents: n.chargeMicros / 10_000,
          event_id: n.eventId,
          request_id: n.requestId,
        },
      });
      if (res.kind === 'answer' && res.status >= 200 && res.status < 300) {
        const body = res.body as { counted?: boolean; journaled?: boolean };
        this.ledger.ack(n, ref, this.nowMs(), body.counted === true, body.journaled === true);
        return;
      }
      if (
        res.kind === 'answer' &&
        res.status >= 400 &&
        res.status < 500 &&
        res.status !== 408 &&
        res.status !== 429
      ) {
        if (!duplicate) this.ledger.reject(n, res.status, errorCode(res.body));
        return;
      }
      // No answer, or a 5xx: the server may or may not have booked it.
      n.unknownOutcomes++;
      if (n.state === 'acked' && !duplicate) return;
      await sleep(Math.min(MAX_BACKOFF_MS, 50 * 2 ** Math.min(attempt, 5)));
      if (!sticky || res.kind !== 'answer')
        target = this.pickTarget(retryRoll(this.o.seed, n.eventId, attempt));
    }
  }

  /** Samples /budget/status of one campaign on one running instance every `everyMs` until `untilMs`. */
  async sampleStatus(untilMs: number, everyMs: number): Promise<void> {
    for (let i = 0; this.nowMs() < untilMs; i++) {
      const up = this.cluster.targets().filter((s) => s.up);
      if (up.length > 0)
        await this.sampleOne(up[i % up.length]!, this.campaigns[i % this.campaigns.length]!.id);
      await sleep(everyMs);
    }
  }

  async sampleOne(s: Slot, campaignId: string): Promise<void> {
    const res = await send('GET', `${s.url}/budget/status/${encodeURIComponent(campaignId)}`, {
      apiKey: this.o.apiKey,
      timeoutMs: 2000,
    });
    if (res.kind === 'answer' && res.status === 200) {
      this.statusSamples.push({
        atMs: this.nowMs() - this.t0Ms,
        slot: s.slot,
        campaignId,
        status: res.body as StatusSample['status'],
      });
    }
  }

  /** True when the deciding process answered the notice (for the report). */
  static routedHome(n: Notice): boolean {
    return n.ackedBy !== null && sameProcess(n.ackedBy, n.decidedBy);
  }
}
