import * as hdr from 'hdr-histogram-js';
import { hashUnit } from '../server/runtime/random';
import { MAX_BID_CENTS, MIN_BID_CENTS, type PlannedCampaign } from './campaigns';
import { type HttpAnswer, type HttpClient, errorKey } from './httpClient';
import type { Schedule } from './pattern';

/** What the client itself saw of one campaign: the truth the server's figures are checked against. */
export interface CampaignTally {
  decisions: number;
  allowed: number;
  /** One impression at the allowed max bid, summed: what the server committed for this campaign. */
  allowedMicros: number;
  /** Notices the server answered counted: true. */
  countedMicros: number;
  /** Notices without a clear answer (timeout, 5xx): they may or may not have counted. */
  uncertainMicros: number;
  circuitOpenSeen: number;
}

export interface RunResult {
  readonly offered: number;
  readonly completed: number;
  readonly elapsedS: number;
  /** Decision latency from the due time, in microseconds. */
  readonly decisionLatency: hdr.Histogram;
  /** Win-notice latency from its send, in microseconds. */
  readonly trackLatency: hdr.Histogram;
  readonly reasons: Record<string, number>;
  readonly decisionErrors: Record<string, number>;
  readonly trackErrors: Record<string, number>;
  readonly notices: { sent: number; counted: number; duplicate: number; journaled: number };
  readonly tallies: Map<string, CampaignTally>;
  /** How late the generator itself sent, worst case, in ms: large means the client, not the server, lagged. */
  readonly maxSendLagMs: number;
}

export interface Progress {
  readonly elapsedS: number;
  readonly offeredQps: number;
  readonly achievedQps: number;
  readonly inFlight: number;
  readonly p99Ms: number;
  readonly errors: number;
}

export interface RunInput {
  readonly client: HttpClient;
  readonly campaigns: readonly PlannedCampaign[];
  readonly schedule: Schedule;
  readonly runTag: string;
  readonly seed: string;
  readonly spendRate: number;
  readonly onProgress?: (p: Progress) => void;
}

export function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

function bump(m: Record<string, number>, key: string): void {
  m[key] = (m[key] ?? 0) + 1;
}

/** One impression at a CPM of `cents`, in whole micros (1 cent = 10,000 micros; CPM / 1000). */
export function impressionMicros(cpmCents: number): number {
  return Math.floor(Math.round(cpmCents * 10_000) / 1000);
}

export function bidCentsFor(seed: string, n: number): number {
  return MIN_BID_CENTS + Math.floor(hashUnit(`${seed}:b:${n}`) * (MAX_BID_CENTS - MIN_BID_CENTS + 1));
}

export async function runOpenLoop(input: RunInput): Promise<RunResult> {
  const { client, campaigns, schedule } = input;
  const decisionLatency = newHistogram();
  const trackLatency = newHistogram();
  const reasons: Record<string, number> = {};
  const decisionErrors: Record<string, number> = {};
  const trackErrors: Record<string, number> = {};
  const notices = { sent: 0, counted: 0, duplicate: 0, journaled: 0 };
  const tallies = new Map<string, CampaignTally>();
  for (const c of campaigns) {
    tallies.set(c.id, {
      decisions: 0,
      allowed: 0,
      allowedMicros: 0,
      countedMicros: 0,
      uncertainMicros: 0,
      circuitOpenSeen: 0,
    });
  }
  let completed = 0;
  let inFlight = 0;
  let errors = 0;
  let maxSendLagMs = 0;
  const pending = new Set<Promise<void>>();
  const t0 = performance.now();

  const settle = async (campaignId: string, n: number, spendMicros: number, requestId: string) => {
    const tally = tallies.get(campaignId)!;
    notices.sent++;
    const sentAt = performance.now();
    const res = await client.send('POST', '/spend/track', {
      campaign_id: campaignId,
      spend_cents: spendMicros / 10_000,
      event_id: `${input.runTag}-e${n}`,
      request_id: requestId,
    });
    trackLatency.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
    if (res.status !== 200) {
      bump(trackErrors, errorKey(res));
      // A 4xx was refused with nothing changed; anything else may have counted.
      if (res.status === 0 || res.status >= 500) tally.uncertainMicros += spendMicros;
      return;
    }
    const body = res.body as { counted: boolean; journaled: boolean };
    if (body.counted) {
      notices.counted++;
      tally.countedMicros += spendMicros;
    } else notices.duplicate++;
    if (body.journaled) notices.journaled++;
  };

  const onDecision = async (
    n: number,
    dueMs: number,
    campaignId: string,
    requestId: string,
    res: HttpAnswer,
  ) => {
    decisionLatency.recordValue(Math.max(1, Math.round((performance.now() - dueMs) * 1000)));
    completed++;
    const tally = tallies.get(campaignId)!;
    tally.decisions++;
    if (res.status !== 200) {
      errors++;
      bump(decisionErrors, errorKey(res));
      return;
    }
    const d = res.body as { allow_bid: boolean; max_bid_cents: number; reason: string };
    bump(reasons, d.reason);
    if (d.reason === 'circuit_open') tally.circuitOpenSeen++;
    if (!d.allow_bid) return;
    const costMicros = impressionMicros(d.max_bid_cents);
    tally.allowed++;
    tally.allowedMicros += costMicros;
    if (hashUnit(`${input.seed}:w:${n}`) < input.spendRate)
      await settle(campaignId, n, costMicros, requestId);
  };

  const fire = (n: number) => {
    const dueMs = t0 + schedule.sendAtMs(n);
    const lag = performance.now() - dueMs;
    if (lag > maxSendLagMs) maxSendLagMs = lag;
    const campaign = campaigns[Math.floor(hashUnit(`${input.seed}:c:${n}`) * campaigns.length)]!;
    const requestId = `${input.runTag}-r${n}`;
    inFlight++;
    const p = client
      .send('POST', '/pacing/decision', {
        campaign_id: campaign.id,
        bid_cents: bidCentsFor(input.seed, n),
        request_id: requestId,
      })
      .then((res) => onDecision(n, dueMs, campaign.id, requestId, res))
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  };

  let progressTimer: NodeJS.Timeout | undefined;
  if (input.onProgress) {
    let lastCompleted = 0;
    let lastAt = t0;
    progressTimer = setInterval(() => {
      const now = performance.now();
      input.onProgress!({
        elapsedS: (now - t0) / 1000,
        offeredQps: schedule.rateAt((now - t0) / 1000),
        achievedQps: ((completed - lastCompleted) * 1000) / (now - lastAt),
        inFlight,
        p99Ms: decisionLatency.totalCount > 0 ? decisionLatency.getValueAtPercentile(99) / 1000 : 0,
        errors,
      });
      lastCompleted = completed;
      lastAt = now;
    }, 1000);
  }

  await new Promise<void>((resolve) => {
    let n = 0;
    const pump = () => {
      const elapsed = performance.now() - t0;
      while (n < schedule.total && schedule.sendAtMs(n) <= elapsed) fire(n++);
      if (n >= schedule.total) {
        resolve();
        return;
      }
      setTimeout(pump, Math.min(Math.max(schedule.sendAtMs(n) - elapsed, 0), 10));
    };
    pump();
  });
  while (pending.size > 0) await Promise.all([...pending]);
  if (progressTimer) clearInterval(progressTimer);
  return {
    offered: schedule.total,
    completed,
    elapsedS: (performance.now() - t0) / 1000,
    decisionLatency,
    trackLatency,
    reasons,
    decisionErrors,
    trackErrors,
    notices,
    tallies,
    maxSendLagMs,
  };
}
