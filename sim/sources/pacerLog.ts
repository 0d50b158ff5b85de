import { DAY_MS, type DecisionRow, type WinRow } from '../../core/index';
import { randStream } from '../random';
import type { ReplayOutcomes } from '../replayOutcomes';
import type { PacerLogStreamSpec } from '../scenario';
import { type PriceModel, drawPrice, fitCensoredLognormal, priceQuantile } from './censoredPrice';
import { PacerLogError, type PacerLogRows, readPacerLog } from './pacerLogFiles';
import {
  type BidRequest,
  type BidSource,
  type StreamFactory,
  type StreamPlan,
  newBidRequest,
} from './source';

export type { PacerLogStreamSpec };

const MINUTE_MS = 60_000;
const OUTCOME_RECORDED = 0;
const OUTCOME_ABOVE_BID = 1;
const OUTCOME_MODEL = 2;

export interface PacerLogFactory extends StreamFactory {
  readonly replay: ReplayOutcomes;
}

const winKey = (requestId: string, campaignId: string): string => `${requestId}\u0000${campaignId}`;

/** The recorded win price of each decision that won (joined on request id and campaign). */
function joinWins(wins: readonly WinRow[]): Map<string, number> {
  const byKey = new Map<string, number>();
  for (const w of wins) {
    // A notice of no spend says the bid lost (a bidder may send one to release the reservation).
    if (w.requestId === null || w.spendMicros === 0) continue;
    const k = winKey(w.requestId, w.campaignId);
    // A request wins one impression per campaign: a second notice for it is another event.
    if (!byKey.has(k)) byKey.set(k, w.spendMicros);
  }
  return byKey;
}

/** The decision rows inside [startMs, endMs), in time order. */
function inWindow(rows: PacerLogRows, startMs: number, endMs: number, where: string): DecisionRow[] {
  const out = rows.decisions.filter((d) => d.timeMs >= startMs && d.timeMs < endMs);
  if (out.length === 0) {
    const first = rows.decisions[0];
    const last = rows.decisions[rows.decisions.length - 1];
    throw new PacerLogError(
      where,
      first === undefined
        ? 'the recording has no decision rows'
        : `no decision row falls in the scenario's days (${new Date(startMs).toISOString()} to ${new Date(endMs).toISOString()}); the recording runs from ${new Date(first.timeMs).toISOString()} to ${new Date(last!.timeMs).toISOString()}: set startDate to one of its days`,
    );
  }
  return out;
}

/** The price model fitted on every decision of the window: wins observed, allowed losses censored. */
function fitModel(rows: readonly DecisionRow[], won: Map<string, number>, where: string): PriceModel {
  const wonPrices: number[] = [];
  const lostBids: number[] = [];
  for (const d of rows) {
    const spend = d.requestId === null ? undefined : won.get(winKey(d.requestId, d.campaignId));
    // A win notice's spend is one impression's cost: the CPM is a thousand of them.
    if (spend !== undefined) wonPrices.push(spend * 1000);
    else if (d.allow) lostBids.push(d.maxBidMicros);
  }
  if (wonPrices.length === 0)
    throw new PacerLogError(where, 'no win notice joins a decision in these days: no market price to fit');
  return fitCensoredLognormal(wonPrices, lostBids);
}

function planOf(rows: readonly DecisionRow[], model: PriceModel, startMs: number, days: number): StreamPlan {
  const minutes = days * 1440;
  const perMinute = new Float64Array(minutes);
  for (const d of rows) perMinute[Math.floor((d.timeMs - startMs) / MINUTE_MS)]! += 1;
  // The model's prices at 1000 evenly spaced quantiles: expected costs without a draw.
  const grid = Array.from({ length: 1000 }, (_, i) => priceQuantile(model, (i + 0.5) / 1000));
  return {
    startMs,
    endMs: startMs + days * DAY_MS,
    expectedRequests: rows.length,
    expectedPerMinute: perMinute,
    expectedCostPerRequestMicros: (bid, pricing) => {
      let paid = 0;
      for (const p of grid) if (p <= bid) paid += pricing === 'first' ? bid : p;
      return paid / 1000 / grid.length;
    },
    surges: [],
  };
}

/** One replayed request per column entry; prices are drawn at open, from the seed. */
interface Replay {
  readonly n: number;
  readonly timeMs: Float64Array;
  readonly campaign: Int32Array;
  readonly bid: Float64Array;
  readonly value: Float64Array;
  readonly outcome: Uint8Array;
  /** Recorded win CPM (outcome 0), the bid to draw above (1), unused (2). */
  readonly pricePart: Float64Array;
}

class PacerLogSource implements BidSource {
  readonly req: BidRequest = newBidRequest();
  private k = 0;

  constructor(
    private readonly r: Replay,
    private readonly prices: Float64Array,
  ) {}

  next(): boolean {
    const k = this.k;
    if (k >= this.r.n) return false;
    this.k++;
    const req = this.req;
    req.timeMs = this.r.timeMs[k]!;
    req.campaign = this.r.campaign[k]!;
    req.bidCpmMicros = this.r.bid[k]!;
    req.value = this.r.value[k]!;
    req.pctr = req.value >= 0 ? req.value : 0;
    req.marketPriceCpmMicros = this.prices[k]!;
    req.recordedPrice = this.r.outcome[k] === OUTCOME_RECORDED;
    return true;
  }

  fill(): void {}
}

/**
 * A day of production traffic, as the server recorded it (RECORD_DIR), replayed request by
 * request: each decision row asks its own campaign, at its recorded time, bid and value signal.
 * The market price is the recorded one where the server's bid won, and a draw from a lognormal
 * fitted on the recording where it did not (above the bid when it lost, unconditioned when the
 * server never bid), so every algorithm meets the same prices. Rows outside the scenario's days
 * or of campaigns the scenario does not list are left out and counted.
 */
export function pacerLogStream(
  spec: PacerLogStreamSpec,
  absPath: string,
  startMs: number,
  days: number,
): { plan: StreamPlan; bind(campaignIds: readonly string[]): PacerLogFactory } {
  const rows = readPacerLog(absPath);
  const endMs = startMs + days * DAY_MS;
  const window = inWindow(rows, startMs, endMs, spec.path);
  const won = joinWins(rows.wins);
  const model = fitModel(window, won, spec.path);
  const plan = planOf(window, model, startMs, days);
  const bind = (campaignIds: readonly string[]): PacerLogFactory => {
    const index = new Map(campaignIds.map((id, i) => [id, i]));
    const n = window.filter((d) => index.has(d.campaignId)).length;
    if (n === 0)
      throw new PacerLogError(
        spec.path,
        `none of the recorded campaigns (${[...new Set(window.map((d) => d.campaignId))].slice(0, 5).join(', ')}) is in the scenario's campaign list`,
      );
    const r: Replay = {
      n,
      timeMs: new Float64Array(n),
      campaign: new Int32Array(n),
      bid: new Float64Array(n),
      value: new Float64Array(n),
      outcome: new Uint8Array(n),
      pricePart: new Float64Array(n),
    };
    const counts = [0, 0, 0];
    let weight = 1;
    let k = 0;
    const joined = new Set<string>();
    for (const d of window) {
      const c = index.get(d.campaignId);
      if (c === undefined) continue;
      const key = d.requestId === null ? null : winKey(d.requestId, d.campaignId);
      const spend = key === null ? undefined : won.get(key);
      r.timeMs[k] = d.timeMs;
      r.campaign[k] = c;
      r.bid[k] = d.bidMicros;
      r.value[k] = d.value;
      const outcome = spend !== undefined ? OUTCOME_RECORDED : d.allow ? OUTCOME_ABOVE_BID : OUTCOME_MODEL;
      r.outcome[k] = outcome;
      r.pricePart[k] = spend !== undefined ? spend * 1000 : d.allow ? d.maxBidMicros : -1;
      if (spend !== undefined) joined.add(key!);
      counts[outcome]!++;
      if (d.weight > weight) weight = d.weight;
      k++;
    }
    const inDays = rows.wins.filter(
      (w) => w.timeMs >= startMs && w.timeMs < endMs && index.has(w.campaignId),
    );
    const replay: ReplayOutcomes = {
      files: rows.files.length,
      decisionRows: rows.decisions.length,
      replayed: n,
      outsideWindow: rows.decisions.length - window.length,
      unknownCampaign: window.length - n,
      recordedWins: counts[OUTCOME_RECORDED]!,
      modelAboveBid: counts[OUTCOME_ABOVE_BID]!,
      modelUnconditional: counts[OUTCOME_MODEL]!,
      unmatchedWins: inDays.filter(
        (w) => w.spendMicros > 0 && (w.requestId === null || !joined.has(winKey(w.requestId, w.campaignId))),
      ).length,
      sampleWeight: weight,
      priceModel: {
        medianCpmMicros: Math.round(Math.exp(model.mu)),
        sigma: Math.round(model.sigma * 1e6) / 1e6,
      },
    };
    return {
      plan,
      replay,
      open: (seed: number) => {
        // Drawn in row order from one stream of the seed: the same prices for every algorithm.
        const rand = randStream(seed, 'pacer-log/prices');
        const prices = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          const o = r.outcome[i]!;
          prices[i] =
            o === OUTCOME_RECORDED
              ? r.pricePart[i]!
              : drawPrice(model, rand, o === OUTCOME_ABOVE_BID ? r.pricePart[i]! : -1);
        }
        return new PacerLogSource(r, prices);
      },
    };
  };
  return { plan, bind };
}
