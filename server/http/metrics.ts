import { setImmediate as nextTurn } from 'node:timers/promises';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { BreakerState } from '../../core/breaker';
import type { Campaign } from '../../core/campaign';
import { DECISION_REASONS } from '../../core/decision';
import type { BudgetStatus, PacerRuntime, SpendOutcome } from '../runtime/types';

/** Breaker states as gauge values: ordered by how much they hold back, so max() across instances reads right. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = {
  CLOSED: 0,
  HALF_OPEN: 1,
  OPEN: 2,
};

/** Upper bounds of the request-duration buckets, in seconds (the +Inf bucket is implicit). */
const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1];
const DURATION_NAME = 'pacer_request_duration_seconds';
const DURATION_HELP = 'HTTP request duration by route, method and status code.';

/**
 * One label set of the request-duration histogram: plain counts, rendered at scrape time in
 * prom-client's exposition format. prom-client's own observe (even on a child from labels())
 * validates and hashes the label set on every call, which was ~2.5% of the server's CPU at max
 * rate; this is a bucket search and three additions.
 */
class DurationSeries {
  readonly buckets = new Float64Array(DURATION_BUCKETS.length);
  sum = 0;
  count = 0;
  constructor(readonly labels: string) {}

  observe(seconds: number): void {
    if (!Number.isFinite(seconds)) return;
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < DURATION_BUCKETS.length; i++) {
      if (seconds <= DURATION_BUCKETS[i]!) {
        this.buckets[i]!++;
        return;
      }
    }
  }
}

/**
 * The per-campaign gauge families, rendered by hand (see PacerMetrics.render). A value of null
 * writes no line for that campaign.
 */
const CAMPAIGN_GAUGES: readonly {
  readonly name: string;
  readonly help: string;
  readonly value: (s: BudgetStatus, c: Campaign) => number | null;
}[] = [
  {
    name: 'pacer_budget_utilization_percentage',
    help: "Today's spend as a percentage of the campaign's daily budget.",
    value: (s) => s.utilization * 100,
  },
  {
    name: 'pacer_target_utilization_percentage',
    help: "Where the pacing curve says today's spend should be by now, as a percentage of the daily budget; only ACTIVE campaigns with a curve (not ASAP), so alerts on the gap to pace need no exceptions.",
    // Campaigns that do not bid, or bid with no curve, have no pace to be behind or ahead of.
    value: (s, c) =>
      c.status !== 'ACTIVE' || s.pacingMode === 'ASAP' || s.dailyBudgetMicros <= 0
        ? null
        : (s.targetSpentMicros / s.dailyBudgetMicros) * 100,
  },
  {
    name: 'pacer_circuit_breaker_state',
    help: 'Budget circuit breaker per campaign: 0 CLOSED, 1 HALF_OPEN, 2 OPEN.',
    value: (s) => BREAKER_STATE_VALUE[s.breakerState],
  },
  {
    name: 'pacer_throttle_rate',
    help: 'Share of bid requests the pacer is skipping per campaign, 0 to 1.',
    value: (s) => s.throttleRate,
  },
];

/** Campaigns whose statuses are read in one turn of the event loop during a scrape. */
const SCRAPE_SLICE = 500;

/** The exposition format's number and label-value spelling (as prom-client writes them). */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}
function escapeLabel(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

/**
 * The Prometheus metrics of one app, in a registry of its own (several apps in one test process
 * must not collide). Per-campaign gauges are computed at scrape time from the runtime, so the
 * decision path pays only for a request-duration observation and a decision counter increment.
 *
 * The per-campaign families are written as text here rather than as prom-client Gauges: with
 * 10,000 campaigns, 30,000 labelled children reset and set per scrape blocked the event loop for
 * 150-220 ms. Here statuses are read SCRAPE_SLICE campaigns per turn of the event loop, so a
 * scrape never holds decisions up for more than about a millisecond at a time.
 */
export class PacerMetrics {
  readonly registry = new Registry();
  private readonly decisions: Counter<'reason'>;
  private readonly spendEvents: Counter<'outcome'>;
  private readonly storeErrors: Counter<'source'>;
  /** method -> route -> status -> series: label lookups without building a key string per request. */
  private readonly durationSeries = new Map<string, Map<string, Map<number, DurationSeries>>>();
  /** In first-observed order, as prom-client lists label sets. */
  private readonly durationList: DurationSeries[] = [];
  /** Decisions by reason since start, added to the prom-client counter at scrape time. */
  private readonly decisionCounts = new Map<string, { n: number; seen: number }>();

  private readonly runtime: PacerRuntime;

  constructor(runtime: PacerRuntime, opts: { defaultMetrics?: boolean } = {}) {
    this.runtime = runtime;
    const registers = [this.registry];
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const decisionCounts = this.decisionCounts;
    this.decisions = new Counter({
      name: 'pacer_decisions_total',
      help: 'Bid decisions by reason (within_budget, throttled, circuit_open, ...).',
      labelNames: ['reason'],
      registers,
      // Counted in plain numbers on the decision path (prom-client's inc hashes the label set
      // per call); the counter catches up by the delta at scrape time.
      collect() {
        for (const [reason, c] of decisionCounts) {
          if (c.n > c.seen) this.inc({ reason }, c.n - c.seen);
          c.seen = c.n;
        }
      },
    });
    for (const reason of [...DECISION_REASONS, 'unknown_campaign']) {
      this.decisionCounts.set(reason, { n: 0, seen: 0 });
    }
    this.spendEvents = new Counter({
      name: 'pacer_spend_events_total',
      help: 'Spend events by outcome: counted, duplicate (event id seen before) or journaled (store away).',
      labelNames: ['outcome'],
      registers,
    });
    let runtimeErrorsSeen = 0;
    this.storeErrors = new Counter({
      name: 'pacer_store_errors_total',
      help: 'Failures to reach the shared store: source "runtime" counts the failed store operations of the background rounds (sync, flush, probe while degraded), "http" those seen by requests.',
      labelNames: ['source'],
      registers,
      // The runtime's count is read at scrape time; a prom-client counter only goes up by deltas.
      collect() {
        const now = runtime.health().storeErrors;
        if (now > runtimeErrorsSeen) this.inc({ source: 'runtime' }, now - runtimeErrorsSeen);
        runtimeErrorsSeen = now;
      },
    });
    this.storeErrors.inc({ source: 'runtime' }, 0);
    this.storeErrors.inc({ source: 'http' }, 0);
    new Gauge({
      name: 'pacer_degraded_mode',
      help: '1 while this instance decides without the shared store, else 0.',
      registers,
      collect() {
        this.set(runtime.health().status === 'degraded' ? 1 : 0);
      },
    });
    new Gauge({
      name: 'pacer_pending_replay_records',
      help: 'Spend records journaled while the store was away and not yet replayed.',
      registers,
      collect() {
        this.set(runtime.health().pendingReplay);
      },
    });
  }

  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    let byRoute = this.durationSeries.get(method);
    if (byRoute === undefined) {
      byRoute = new Map();
      this.durationSeries.set(method, byRoute);
    }
    let byStatus = byRoute.get(route);
    if (byStatus === undefined) {
      byStatus = new Map();
      byRoute.set(route, byStatus);
    }
    let series = byStatus.get(statusCode);
    if (series === undefined) {
      series = new DurationSeries(
        `method="${escapeLabel(method)}",route="${escapeLabel(route)}",status_code="${statusCode}"`,
      );
      byStatus.set(statusCode, series);
      this.durationList.push(series);
    }
    series.observe(seconds);
  }

  countDecision(reason: string): void {
    const c = this.decisionCounts.get(reason);
    if (c !== undefined) c.n++;
  }

  /** The request-duration histogram in prom-client's spelling (cumulative buckets, le first). */
  private durationText(): string {
    let text = `\n# HELP ${DURATION_NAME} ${DURATION_HELP}\n# TYPE ${DURATION_NAME} histogram\n`;
    for (const s of this.durationList) {
      let cumulative = 0;
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        cumulative += s.buckets[i]!;
        text += `${DURATION_NAME}_bucket{le="${DURATION_BUCKETS[i]}",${s.labels}} ${cumulative}\n`;
      }
      text += `${DURATION_NAME}_bucket{le="+Inf",${s.labels}} ${s.count}\n`;
      text += `${DURATION_NAME}_sum{${s.labels}} ${formatValue(s.sum)}\n`;
      text += `${DURATION_NAME}_count{${s.labels}} ${s.count}\n`;
    }
    return text;
  }

  countSpend(outcome: SpendOutcome): void {
    this.spendEvents.inc({
      outcome: !outcome.counted ? 'duplicate' : outcome.journaled ? 'journaled' : 'counted',
    });
  }

  countStoreError(source: 'http'): void {
    this.storeErrors.inc({ source });
  }

  contentType(): string {
    return this.registry.contentType;
  }

  /** The whole exposition text (tests; the route streams `chunks()`). */
  async render(): Promise<string> {
    let text = '';
    for await (const chunk of this.chunks()) text += chunk;
    return text;
  }

  /**
   * The exposition text in pieces, for streaming: prom-client's registry first, then the
   * per-campaign families. Statuses are read SCRAPE_SLICE campaigns per turn of the event loop
   * into typed arrays; each family is then written SCRAPE_SLICE lines per piece, so a scrape of
   * 10,000 campaigns neither blocks decisions nor holds 30,000 lines in memory at once.
   */
  async *chunks(): AsyncGenerator<string> {
    yield await this.registry.metrics();
    yield this.durationText();
    const campaigns = this.runtime.listCampaigns();
    const n = campaigns.length;
    const families = CAMPAIGN_GAUGES.length;
    const values = new Float64Array(n * families);
    const labels: (string | null)[] = new Array(n).fill(null);
    for (let i = 0; i < n; i++) {
      if (i > 0 && i % SCRAPE_SLICE === 0) await nextTurn();
      const s = this.runtime.status(campaigns[i]!.id);
      // Deleted while the scrape yielded.
      if (s === null) continue;
      labels[i] = `{campaign_id="${escapeLabel(s.campaignId)}"} `;
      for (let g = 0; g < families; g++) {
        values[i * families + g] = CAMPAIGN_GAUGES[g]!.value(s, campaigns[i]!) ?? Number.NaN;
      }
    }
    for (let g = 0; g < families; g++) {
      const gauge = CAMPAIGN_GAUGES[g]!;
      // prom-client ends its text with one newline and separates families with a blank line.
      let piece = `\n# HELP ${gauge.name} ${gauge.help}\n# TYPE ${gauge.name} gauge\n`;
      for (let i = 0; i < n; i++) {
        const label = labels[i];
        const value = values[i * families + g]!;
        // NaN marks "no line" (a gauge's null); no family here has NaN as a real value.
        if (label !== null && !Number.isNaN(value)) piece += `${gauge.name}${label}${formatValue(value)}\n`;
        if ((i + 1) % SCRAPE_SLICE === 0) {
          yield piece;
          piece = '';
          await nextTurn();
        }
      }
      if (piece !== '') yield piece;
    }
  }
}
