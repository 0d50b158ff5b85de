import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { AlgorithmSummary, RunReport } from '../sim/result';
import {
  type VlSpec,
  breakerSpec,
  cumulativeSpendSpec,
  degradedSpec,
  localDaysSpec,
  spendPerHourSpec,
  throttleSpec,
  trafficSpec,
} from './charts';

/**
 * The run's report as one HTML file: charts pre-rendered to SVG by Vega in Node (no script, no
 * CDN: it opens offline), a score table, the scenario. Nothing in it depends on the wall clock,
 * so one seed gives the same bytes.
 */
export async function renderSvg(spec: VlSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec as never).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const units = (micros: number) => (micros / 1_000_000).toFixed(2);
const orDash = (x: number | null, f: (v: number) => string = String) => (x === null ? '&ndash;' : f(x));
const hhmm = (minute: number) =>
  `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

/** The headline scores first (utilisation, pacing error, clicks, overspend); accuracy last, with its floor. */
const COLUMNS: readonly [string, (a: AlgorithmSummary) => string][] = [
  ['algorithm', (a) => (a.algorithm === 'ASAP' ? 'ASAP<sup>*</sup>' : a.algorithm)],
  ['utilisation (constrained, mean)', (a) => pct(a.utilisationMeanConstrained)],
  ['utilisation min', (a) => pct(a.utilisationMinConstrained)],
  ['utilisation (unconstrained)', (a) => orDash(a.utilisationMeanUnconstrained, pct)],
  ['pacing error: RMSE / (B/K)', (a) => a.rmseNormalisedMean.toFixed(2)],
  ['max |S/B-P|', (a) => pct(a.maxDeviationMean)],
  ['clicks', (a) => String(a.clicks)],
  ['clicks per unit spend', (a) => orDash(a.clicksPerUnitSpend, (x) => x.toFixed(3))],
  ['campaign-days overspent / beyond bound', (a) => `${a.overspentCampaignDays} / ${a.overspentBeyondBound}`],
  ['max overspend', (a) => pct(a.maxOverspendShare)],
  ['overshoot (15 min)', (a) => pct(a.overshootMean)],
  ['settled by', (a) => orDash(a.settlingMinuteMedian, (m) => hhmm(Math.round(m)))],
  ['throttle volatility', (a) => a.throttleVolatilityMean.toFixed(3)],
  ['95% spent at (median)', (a) => orDash(a.exhaustionMinuteMedian, (m) => hhmm(Math.round(m)))],
  ['wins', (a) => String(a.wins)],
  ['win rate', (a) => pct(a.winRate)],
  ['eCPM', (a) => orDash(a.ecpmMicros, units)],
  ['eCPC', (a) => orDash(a.ecpcMicros, units)],
  ['breaker trips', (a) => String(a.breakerTrips)],
  ['outage decisions', (a) => String(a.outageDecisions)],
  ['outage spend', (a) => units(a.outageSpendMicros)],
  ['spend lost', (a) => units(a.spendLostMicros)],
  ['outages reconciled', (a) => `${a.outagesReconciled} / ${a.outages}`],
  ['pacing accuracy (floor 50%, see glossary)', (a) => pct(a.accuracyMeanConstrained)],
  ['accuracy min', (a) => pct(a.accuracyMinConstrained)],
];

/** Every score of the report, in words: what it measures and which way is better. */
const GLOSSARY: readonly [string, string][] = [
  [
    'utilisation',
    'S/B: spend of the campaign-day over its budget. Means and minimum over the budget-constrained campaign-days (those whose full-pass spend exceeds the budget), where pacing can spend it all; higher is better, 100% at most without overspend.',
  ],
  [
    'pacing error: RMSE / (B/K)',
    'Root mean square over the K = 1,440 minutes of (spend in the minute - spend the target curve plans for it), divided by the planned spend of an average minute B/K. 0 is perfect; it grows with lumpy spend (few, expensive wins per minute) as well as with drift from the curve.',
  ],
  [
    'max |S/B-P|',
    'Largest gap over the day between the share of budget spent and the target curve P(t); lower is better.',
  ],
  [
    'clicks, clicks per unit spend',
    'Clicks bought (recorded clicks on a recorded stream, drawn from pctr on a synthetic one), and clicks per currency unit (1,000,000 micros) spent: what value pacing is for.',
  ],
  [
    'campaign-days overspent / beyond bound',
    'Campaign-days whose spend passed the budget at all, and those past the stated bound (one impression at the maximum bid per instance, plus E, the spend of notices whose reservation was lost in a crash). Must be 0 beyond the bound.',
  ],
  ['max overspend', 'Largest overspend as a share of its budget.'],
  ['overshoot (15 min)', 'Largest 15-minute actual / planned spend rate minus 1.'],
  ['settled by', 'Median first minute from which |S/B - P| stays within 2% for the rest of the day.'],
  ['throttle volatility', 'Standard deviation of the minute-to-minute change of the throttle rate.'],
  ['95% spent at', 'Median time at which 95% of the budget was spent (exhaustion).'],
  [
    'wins, win rate, eCPM, eCPC',
    'Impressions bought, wins per bid, cost per thousand impressions and per click, in currency units.',
  ],
  [
    'breaker trips',
    'Times a breaker opened. The precision breaker (default) opens only on overspend risk; the classic one at its trip ratio (95%).',
  ],
  [
    'outage decisions / spend, spend lost, outages reconciled',
    'Decisions and spend made while the store was down; spend the store does not hold at the end (must be 0); outages after which the store held all spend made.',
  ],
  [
    'pacing accuracy',
    '1 - mean over minutes of |S(t)/B - P(t)|. Kept for comparison with the reference design, but read it with its floor: a campaign that spends nothing scores about 50% on a linear curve, and one that leaves a quarter of its budget unspent can still score 96%.',
  ],
];

function glossary(): string {
  return `<dl class="glossary">${GLOSSARY.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`;
}

/**
 * One row per campaign-day, worst first: sorted by the lowest utilisation any algorithm reached on
 * it (constrained campaign-days first), with each algorithm's utilisation, pacing error and clicks.
 */
function campaignTable(result: RunReport): string {
  const algos = result.summary.algorithms.map((a) => a.algorithm);
  const byAlgo = algos.map((a) => result.campaignDays[a] ?? []);
  const first = byAlgo[0] ?? [];
  const rows = first.map((r, i) => ({
    r,
    cells: byAlgo.map((days) => days[i]!),
    worst: Math.min(...byAlgo.map((days) => days[i]!.utilisation)),
  }));
  rows.sort((x, y) => Number(y.r.constrained) - Number(x.r.constrained) || x.worst - y.worst);
  const head = `<tr><th>campaign-day</th><th>budget</th>${algos.map((a) => `<th>${a}: utilisation / RMSE / clicks</th>`).join('')}</tr>`;
  const body = rows.map(
    ({ r, cells }) =>
      `<tr><th>${esc(r.campaignId)} ${r.date} ${esc(r.timeZone)}${r.hours !== 24 ? ` (${r.hours} h)` : ''}${r.constrained ? '' : ' (unconstrained)'}</th><td>${units(r.budgetMicros)}</td>${cells
        .map(
          (c) =>
            `<td${c.overspentBeyondBound ? ' class="fail"' : ''}>${pct(c.utilisation)} / ${c.rmseNormalised.toFixed(2)} / ${c.clicks}</td>`,
        )
        .join('')}</tr>`,
  );
  return `<table class="campaigns">${head}${body.join('')}</table>`;
}

/** Rows added when the scenario restarts instances. */
const RESTART_COLUMNS: readonly [string, (a: AlgorithmSummary) => string][] = [
  ['requests rerouted from a down instance', (a) => String(a.restarts?.requestsRerouted ?? 0)],
  ['requests lost (every instance down)', (a) => String(a.restarts?.requestsLost ?? 0)],
  ['notices retried after a crash', (a) => String(a.restarts?.noticesRetried ?? 0)],
  ['notices whose reservation was lost (E)', (a) => String(a.restarts?.noticesReservationLost ?? 0)],
  ['spend of those notices', (a) => units(a.restarts?.reservationLostSpendMicros ?? 0)],
];

/** Rows added when store calls take time. */
const LATENCY_COLUMNS: readonly [string, (a: AlgorithmSummary) => string][] = [
  ['store calls answered late', (a) => String(a.latency?.delayedStoreCalls ?? 0)],
  ['view of day spend, mean lag', (a) => units(a.latency?.meanViewLagMicros ?? 0)],
];

function scoreTable(result: RunReport): string {
  const algos = result.summary.algorithms;
  const head = `<tr><th>score</th>${algos.map((a) => `<th>${a.algorithm}</th>`).join('')}</tr>`;
  const sc = result.summary.scenario;
  const columns = [
    ...COLUMNS,
    ...(sc.restarts ? RESTART_COLUMNS : []),
    ...(sc.latency ? LATENCY_COLUMNS : []),
  ];
  const rows = columns
    .slice(1)
    .map(([name, f]) => `<tr><th>${esc(name)}</th>${algos.map((a) => `<td>${f(a)}</td>`).join('')}</tr>`);
  return `<table class="scores">${head}${rows.join('')}</table>`;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}
h1{font-size:22px}h2{font-size:17px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f4f4f4}
th:first-child{text-align:left}.fail{color:#b00020}.ok{color:#1b7a1b}figure{margin:16px 0}
code{background:#f4f4f4;padding:1px 4px}dt{font-weight:600;margin-top:6px}dd{margin:0 0 0 16px}`;

/** Says what each crash did with the instance's traffic: moved to the others, or lost. */
function restartSentence(result: RunReport): string {
  const w = result.world;
  if (w.restarts.length === 0) return '';
  const n = w.scenario.instances.count;
  const parts = w.restarts.map((r) => {
    const at = new Date(r.downMs).toISOString().slice(0, 16).replace('T', ' ');
    const where =
      n > 1
        ? 'its requests went to the other instance(s)'
        : 'its requests were lost (it was the only instance)';
    return `instance i${r.instance} crashed at ${at} UTC for ${Math.round((r.upMs - r.downMs) / 1000)} s (${where}) and restarted from its journal`;
  });
  return `\n${esc(parts.join('; '))}.`;
}

function latencySentence(result: RunReport): string {
  const l = result.summary.scenario.latency;
  if (l === undefined) return '';
  return `\nStore calls answer after ${l.meanMs} &plusmn; ${l.jitterMs} ms of simulated time from ${hhmm(Math.floor(l.fromMs / 60_000))} to ${hhmm(Math.floor(l.toMs / 60_000))} of the run; decisions meanwhile use the state the instance had.`;
}

/** The zones of the run and how many campaigns each has. */
function zoneList(result: RunReport): string {
  return Object.entries(result.summary.scenario.timeZones)
    .map(([z, n]) => `${esc(z)}: ${n}`)
    .join(', ');
}

export async function buildReportHtml(result: RunReport): Promise<string> {
  const s = result.summary;
  const sc = s.scenario;
  const charts: [string, VlSpec][] = [
    ['cumulative', cumulativeSpendSpec(result)],
    ['spend-per-hour', spendPerHourSpec(result)],
    ['throttle', throttleSpec(result)],
    ['breaker', breakerSpec(result)],
    ['degraded', degradedSpec(result)],
    ['traffic', trafficSpec(result)],
    // With only UTC campaigns the local days are the run's days: the cumulative chart shows them.
    ...(Object.keys(sc.timeZones).some((z) => z !== 'UTC')
      ? [['local-days', localDaysSpec(result)] as [string, VlSpec]]
      : []),
  ];
  const figures: string[] = [];
  for (const [id, spec] of charts) figures.push(`<figure id="chart-${id}">${await renderSvg(spec)}</figure>`);
  const status = s.ok
    ? '<p class="ok">All thresholds of the scenario are met.</p>'
    : `<p class="fail">Below the scenario's thresholds:</p><ul>${s.failures.map((f) => `<li class="fail">${esc(f)}</li>`).join('')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Pacing report: ${esc(sc.name)} (seed ${sc.seed})</title>
<style>${STYLE}</style></head><body>
<h1>Pacing report: ${esc(sc.name)}</h1>
<p>${esc(sc.description)}</p>
<p>Seed <code>${sc.seed}</code>, ${sc.days} local day(s) from ${esc(sc.startDate)} in each campaign's time zone (${zoneList(result)}), ${sc.campaigns} campaigns
(${sc.constrainedCampaigns} budget-constrained), ${sc.instances} pacer instance(s) syncing every ${sc.syncIntervalMs} ms,
${esc(sc.stream)} stream, ${esc(sc.pricing)}-price auctions, ${sc.outages} store outage(s).${restartSentence(result)}${latencySentence(result)}
Every algorithm paces the same stream and campaigns (each campaign's mode set to the algorithm).</p>
${status}
<h2>Scores</h2>
${scoreTable(result)}
<p><sup>*</sup> ASAP has no target curve; its accuracy is measured against EVEN's. Accuracy, RMSE, deviation,
overshoot and utilisation are over budget-constrained campaign-days; the overspend bound is one
impression at the campaign's maximum bid per instance${sc.restarts ? ', plus the spend of notices whose reservation was lost in a crash (E)' : ''}.
Breaker: ${esc(result.world.config.breaker.mode)}; ${result.world.scenario.bidding.valueSignal === 'pctr' ? "throttling is value-aware (each request's pctr is its value signal)" : 'throttling draws a coin (no value signal)'}.</p>
<h2>Glossary</h2>
${glossary()}
<h2>Charts</h2>
${figures.join('\n')}
<h2>Campaign-days, worst first</h2>
${campaignTable(result)}
</body></html>
`;
}
