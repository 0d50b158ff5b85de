import type * as hdr from 'hdr-histogram-js';
import type { BreakerCheck, BudgetViolation, TotalMismatch } from './checks';
import type { RunResult } from './openLoop';
import type { LoadTestOptions } from './options';
import type { RatePhase } from './pattern';

export interface LatencySummaryMs {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface LoadTestSummary {
  readonly target: string;
  readonly pattern: string;
  readonly phases: readonly RatePhase[];
  readonly durationS: number;
  readonly campaigns: number;
  readonly offeredRequests: number;
  readonly completedRequests: number;
  readonly offeredQps: number;
  readonly achievedQps: number;
  readonly maxSendLagMs: number;
  readonly decisionLatencyMs: LatencySummaryMs;
  readonly decisionsByReason: Record<string, number>;
  readonly decisionErrorsByStatus: Record<string, number>;
  readonly errorShare: number;
  readonly winNotices: RunResult['notices'] & {
    readonly latencyMs: LatencySummaryMs;
    readonly errorsByStatus: Record<string, number>;
  };
  readonly budgetCheck: {
    readonly campaignsChecked: number;
    readonly boundMicros: number;
    readonly violations: readonly BudgetViolation[];
  };
  /** Only for campaigns this run created: server spend equals what it acknowledged. */
  readonly totalsCheck: { readonly checked: number; readonly mismatches: readonly TotalMismatch[] } | null;
  readonly breakerCheck: (BreakerCheck & { readonly tripRatio: number }) | null;
  readonly failures: readonly string[];
  readonly ok: boolean;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function latencySummary(h: hdr.Histogram): LatencySummaryMs {
  if (h.totalCount === 0) return { count: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0, mean: 0 };
  const ms = (us: number) => round3(us / 1000);
  return {
    count: h.totalCount,
    p50: ms(h.getValueAtPercentile(50)),
    p95: ms(h.getValueAtPercentile(95)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

export function offeredQps(o: LoadTestOptions, offered: number): number {
  return round3(offered / o.durationS);
}

function table(rows: [string, string][]): string {
  return ['| measure | value |', '| --- | ---: |', ...rows.map(([a, b]) => `| ${a} | ${b} |`)].join('\n');
}

function counts(m: Record<string, number>): string {
  const e = Object.entries(m).sort((a, b) => b[1] - a[1]);
  return e.length === 0 ? 'none' : e.map(([k, v]) => `${k} ${v.toLocaleString('en-US')}`).join(', ');
}

export function summaryMarkdown(s: LoadTestSummary): string {
  const l = s.decisionLatencyMs;
  const w = s.winNotices.latencyMs;
  const lines = [
    `# Load test: ${s.pattern} against ${s.target}`,
    '',
    `Verdict: ${s.ok ? '**passed**' : '**FAILED**'}`,
    ...s.failures.map((f) => `- ${f}`),
    '',
    `Offered load: ${s.phases.map((p) => `${p.rateQps}/s from ${p.fromS} s to ${p.toS} s`).join('; ')}; open loop, latency measured from each request's due time.`,
    '',
    table([
      ['campaigns', String(s.campaigns)],
      ['decisions offered / completed', `${s.offeredRequests} / ${s.completedRequests}`],
      ['offered / achieved rate', `${s.offeredQps}/s / ${s.achievedQps}/s`],
      ['decision latency p50 / p95 / p99', `${l.p50} / ${l.p95} / ${l.p99} ms`],
      ['decision latency p99.9 / max', `${l.p999} / ${l.max} ms`],
      ['decisions by reason', counts(s.decisionsByReason)],
      ['decision errors', counts(s.decisionErrorsByStatus)],
      [
        'win notices sent / counted / duplicate',
        `${s.winNotices.sent} / ${s.winNotices.counted} / ${s.winNotices.duplicate}`,
      ],
      ['win notice latency p50 / p99 / max', `${w.p50} / ${w.p99} / ${w.max} ms`],
      ['win notice errors', counts(s.winNotices.errorsByStatus)],
      ['generator send lag, max', `${s.maxSendLagMs} ms`],
      [
        'campaigns past budget + bound',
        `${s.budgetCheck.violations.length} of ${s.budgetCheck.campaignsChecked} (bound ${s.budgetCheck.boundMicros} micros)`,
      ],
      ...(s.totalsCheck
        ? [
            [
              'server totals differing from acknowledged spend',
              `${s.totalsCheck.mismatches.length} of ${s.totalsCheck.checked}`,
            ] as [string, string],
          ]
        : []),
      ...(s.breakerCheck
        ? [
            [
              'breakers opened at the trip ratio / not reached',
              `${s.breakerCheck.opened} / ${s.breakerCheck.notReached} (trip ratio ${s.breakerCheck.tripRatio})`,
            ] as [string, string],
          ]
        : []),
    ]),
    '',
    'A large generator send lag means the load generator, not the target, fell behind.',
    '',
  ];
  return lines.join('\n');
}

/** One line for a terminal, rewritten in place every second. */
export function progressLine(p: {
  elapsedS: number;
  durationS: number;
  offeredQps: number;
  achievedQps: number;
  inFlight: number;
  p99Ms: number;
  errors: number;
}): string {
  return `\r[${p.elapsedS.toFixed(0).padStart(4)}/${p.durationS} s] offered ${Math.round(p.offeredQps)}/s achieved ${Math.round(p.achievedQps)}/s in flight ${p.inFlight} p99 ${p.p99Ms.toFixed(2)} ms errors ${p.errors}   `;
}
