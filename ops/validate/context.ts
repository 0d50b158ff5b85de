import type { PacerClient, PacerResponse } from '../pacerClient';

/** What /budget/status answers, in the fields the suite reads. */
export interface StatusJson {
  spent_today_micros: number;
  target_spent_micros: number;
  daily_budget_micros: number;
  throttle_rate: number;
  breaker_state: 'CLOSED' | 'HALF_OPEN' | 'OPEN';
  pacing_mode: string;
}

export interface DecisionJson {
  allow_bid: boolean;
  reason: string;
  throttle_rate: number;
}

export interface SpendJson {
  counted: boolean;
  duplicate: boolean;
  journaled: boolean;
}

export interface SuiteOptions {
  /** Client-side p99 of POST /pacing/decision above which the latency check fails. */
  readonly maxP99Ms: number;
  readonly decisionSamples: number;
  /** The deployment's BREAKER_MODE: precision trips past the budget, classic at the trip ratio. */
  readonly breakerMode: 'precision' | 'classic';
  /** The deployment's BREAKER_TRIP_RATIO (the server does not publish its settings). */
  readonly tripRatio: number;
  /** The deployment's BREAKER_COOLDOWN_MS: the recovery check waits this long, if at most maxWaitMs. */
  readonly cooldownMs: number;
  readonly maxWaitMs: number;
  readonly concurrentSpends: number;
}

/**
 * The suite's handle on a deployment: every campaign it creates is named after this run and
 * deleted at the end, so a run leaves nothing behind and two runs never share a campaign.
 */
export class ValidationContext {
  private readonly created: string[] = [];
  constructor(
    readonly clients: readonly PacerClient[],
    readonly runId: string,
    readonly opts: SuiteOptions,
  ) {}

  get client(): PacerClient {
    return this.clients[0]!;
  }

  campaignId(purpose: string): string {
    return `validate-${this.runId}-${purpose}`;
  }

  /** Creates an ACTIVE campaign in UTC, always in flight; throws with the server's answer when refused. */
  async createCampaign(purpose: string, fields: Record<string, unknown>): Promise<string> {
    const id = this.campaignId(purpose);
    const r = await this.client.post('/campaigns', {
      id,
      name: `validation ${purpose}`,
      status: 'ACTIVE',
      time_zone: 'UTC',
      ...fields,
    });
    if (r.status !== 201) throw new Error(`POST /campaigns ${id} answered ${r.status}: ${r.text}`);
    this.created.push(id);
    await this.visibleEverywhere(id);
    return id;
  }

  /**
   * Other instances pick a new campaign up from the store within their refresh interval; until
   * then they answer 404 for it. The checks start once every instance knows it (15 s at most).
   */
  private async visibleEverywhere(id: string): Promise<void> {
    for (const other of this.clients.slice(1)) {
      let status = 0;
      for (let i = 0; i < 150 && status !== 200; i++) {
        status = (await other.get(`/budget/status/${encodeURIComponent(id)}`)).status;
        if (status !== 200) await sleep(100);
      }
      if (status !== 200) {
        throw new Error(
          `campaign ${id} created on ${this.client.baseUrl} is still unknown to ${other.baseUrl} after 15 s (${status})`,
        );
      }
    }
  }

  async spend(campaignId: string, spendCents: number, eventId: string, client = this.client) {
    const r = await client.post<SpendJson>('/spend/track', {
      campaign_id: campaignId,
      spend_cents: spendCents,
      event_id: eventId,
    });
    if (r.status !== 200) throw new Error(`POST /spend/track answered ${r.status}: ${r.text}`);
    return r.body;
  }

  async decide(
    campaignId: string,
    bidCents: number,
    requestId?: string,
  ): Promise<PacerResponse<DecisionJson>> {
    const r = await this.client.post<DecisionJson>('/pacing/decision', {
      campaign_id: campaignId,
      bid_cents: bidCents,
      ...(requestId === undefined ? {} : { request_id: requestId }),
    });
    if (r.status !== 200) throw new Error(`POST /pacing/decision answered ${r.status}: ${r.text}`);
    return r;
  }

  async status(campaignId: string, client = this.client): Promise<StatusJson> {
    const r = await client.get<StatusJson>(`/budget/status/${encodeURIComponent(campaignId)}`);
    if (r.status !== 200) throw new Error(`GET /budget/status answered ${r.status}: ${r.text}`);
    return r.body;
  }

  /** Deletes every campaign this run created; returns the ids that could not be deleted. */
  async cleanUp(): Promise<string[]> {
    const left: string[] = [];
    for (const id of this.created) {
      const r = await this.client.request('DELETE', `/campaigns/${encodeURIComponent(id)}`).catch(() => null);
      if (r === null || (r.status !== 204 && r.status !== 200 && r.status !== 404)) left.push(id);
    }
    return left;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Cents with 4 decimals to micros, exactly (1 cent = 10,000 micros). */
export function centsToMicros(cents: number): number {
  return Math.round(cents * 10_000);
}
