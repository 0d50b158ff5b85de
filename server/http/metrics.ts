import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BreakerState } from '../../core/breaker';
import { DECISION_REASONS } from '../../core/decision';
import type { BudgetStatus, PacerRuntime, SpendOutcome } from '../runtime/types';

/** Breaker states as gauge values: ordered by how much they hold back, so max() across instances reads right. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerState, number>> = {
  CLOSED: 0,
  HALF_OPEN: 1,
  OPEN: 2,
};

type Child = { observe(value: number): void };

/**
 * The Prometheus metrics of one app, in a registry of its own (several apps in one test process
 * must not collide). Per-campaign gauges are computed at scrape time from the runtime, so the
 * decision path pays only for a request-duration observation and a decision counter increment.
 */
export class PacerMetrics {
  readonly registry = new Registry();
  private readonly requestDuration: Histogram<'method' | 'route' | 'status_code'>;
  private readonly decisions: Counter<'reason'>;
  private readonly spendEvents: Counter<'outcome'>;
  private readonly storeErrors: Counter<'source'>;
  /** method -> route -> status -> child: label lookups without building a key string per request. */
  private readonly durationChildren = new Map<string, Map<string, Map<number, Child>>>();
  private readonly decisionChildren = new Map<string, { inc(): void }>();

  /** Campaign statuses read once per scrape and shared by the per-campaign gauges. */
  private scrapeStatuses: BudgetStatus[] | null = null;

  constructor(runtime: PacerRuntime, opts: { defaultMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const statuses = (): BudgetStatus[] => {
      if (this.scrapeStatuses === null) {
        const out: BudgetStatus[] = [];
        for (const c of runtime.listCampaigns()) {
          const s = runtime.status(c.id);
          if (s !== null) out.push(s);
        }
        this.scrapeStatuses = out;
      }
      return this.scrapeStatuses;
    };
    if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.requestDuration = new Histogram({
      name: 'pacer_request_duration_seconds',
      help: 'HTTP request duration by route, method and status code.',
      labelNames: ['method', 'route', 'status_code'],
      // The decision path answers in well under a millisecond; the low buckets resolve it.
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers,
    });
    this.decisions = new Counter({
      name: 'pacer_decisions_total',
      help: 'Bid decisions by reason (within_budget, throttled, circuit_open, ...).',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of [...DECISION_REASONS, 'unknown_campaign']) {
      this.decisionChildren.set(reason, this.decisions.labels(reason));
    }
    this.spendEvents = new Counter({
      name: 'pacer_spend_events_total',
      help: 'Spend events by outcome: counted, duplicate (event id seen before) or journaled (store away).',
      labelNames: ['outcome'],
      registers,
    });
    this.storeErrors = new Counter({
      name: 'pacer_store_errors_total',
      help: 'Failures to reach the shared store: seen by HTTP requests, or health turning unhealthy.',
      labelNames: ['source'],
      registers,
    });
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
    new Gauge({
      name: 'pacer_budget_utilization_percentage',
      help: "Today's spend as a percentage of the campaign's daily budget.",
      labelNames: ['campaign_id'],
      registers,
      collect() {
        this.reset();
        for (const s of statuses()) this.labels(s.campaignId).set(s.utilization * 100);
      },
    });
    new Gauge({
      name: 'pacer_circuit_breaker_state',
      help: 'Budget circuit breaker per campaign: 0 CLOSED, 1 HALF_OPEN, 2 OPEN.',
      labelNames: ['campaign_id'],
      registers,
      collect() {
        this.reset();
        for (const s of statuses()) this.labels(s.campaignId).set(BREAKER_STATE_VALUE[s.breakerState]);
      },
    });
    new Gauge({
      name: 'pacer_throttle_rate',
      help: 'Share of bid requests the pacer is skipping per campaign, 0 to 1.',
      labelNames: ['campaign_id'],
      registers,
      collect() {
        this.reset();
        for (const s of statuses()) this.labels(s.campaignId).set(s.throttleRate);
      },
    });
  }

  observeRequest(method: string, route: string, statusCode: number, seconds: number): void {
    let byRoute = this.durationChildren.get(method);
    if (byRoute === undefined) {
      byRoute = new Map();
      this.durationChildren.set(method, byRoute);
    }
    let byStatus = byRoute.get(route);
    if (byStatus === undefined) {
      byStatus = new Map();
      byRoute.set(route, byStatus);
    }
    let child = byStatus.get(statusCode);
    if (child === undefined) {
      child = this.requestDuration.labels(method, route, String(statusCode));
      byStatus.set(statusCode, child);
    }
    child.observe(seconds);
  }

  countDecision(reason: string): void {
    this.decisionChildren.get(reason)?.inc();
  }

  countSpend(outcome: SpendOutcome): void {
    this.spendEvents.inc({
      outcome: !outcome.counted ? 'duplicate' : outcome.journaled ? 'journaled' : 'counted',
    });
  }

  countStoreError(source: 'http' | 'health'): void {
    this.storeErrors.inc({ source });
  }

  contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    this.scrapeStatuses = null;
    try {
      return await this.registry.metrics();
    } finally {
      this.scrapeStatuses = null;
    }
  }
}
