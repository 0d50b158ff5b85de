import * as vega from 'vega';
import { compile } from 'vega-lite';
import type { AlgorithmSummary, RunReport } from '../sim/result';
import {
  type VlSpec,
  breakerSpec,
  cumulativeSpendSpec,
  degradedSpec,
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

const COLUMNS: readonly [string, (a: AlgorithmSummary) => string][] = [
  ['algorithm', (a) => (a.algorithm === 'ASAP' ? 'ASAP<sup>*</sup>' : a.algorithm)],
  ['pacing accuracy (constrained, mean)', (a) => pct(a.accuracyMeanConstrained)],
  ['accuracy min', (a) => pct(a.accuracyMinConstrained)],
  ['utilisation (constrained, mean)', (a) => pct(a.utilisationMeanConstrained)],
  ['utilisation min', (a) => pct(a.utilisationMinConstrained)],
  ['utilisation (unconstrained)', (a) => orDash(a.utilisationMeanUnconstrained, pct)],
  ['campaign-days overspent / beyond bound', (a) => `${a.overspentCampaignDays} / ${a.overspentBeyondBound}`],
  ['max overspend', (a) => pct(a.maxOverspendShare)],
  ['RMSE / (B/K)', (a) => a.rmseNormalisedMean.toFixed(2)],
  ['max |S/B-P|', (a) => pct(a.maxDeviationMean)],
  ['overshoot (15 min)', (a) => pct(a.overshootMean)],
  ['settled by', (a) => orDash(a.settlingMinuteMedian, (m) => hhmm(Math.round(m)))],
  ['throttle volatility', (a) => a.throttleVolatilityMean.toFixed(3)],
  ['95% spent at (median)', (a) => orDash(a.exhaustionMinuteMedian, (m) => hhmm(Math.round(m)))],
  ['wins', (a) => String(a.wins)],
  ['clicks', (a) => String(a.clicks)],
  ['win rate', (a) => pct(a.winRate)],
  ['eCPM', (a) => orDash(a.ecpmMicros, units)],
  ['eCPC', (a) => orDash(a.ecpcMicros, units)],
  ['breaker trips', (a) => String(a.breakerTrips)],
  ['outage decisions', (a) => String(a.outageDecisions)],
  ['outage spend', (a) => units(a.outageSpendMicros)],
  ['spend lost', (a) => units(a.spendLostMicros)],
  ['outages reconciled', (a) => `${a.outagesReconciled} / ${a.outages}`],
];

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
code{background:#f4f4f4;padding:1px 4px}`;

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
<p>Seed <code>${sc.seed}</code>, ${sc.days} day(s) from ${esc(sc.startDate)} UTC, ${sc.campaigns} campaigns
(${sc.constrainedCampaigns} budget-constrained), ${sc.instances} pacer instance(s) syncing every ${sc.syncIntervalMs} ms,
${esc(sc.stream)} stream, ${esc(sc.pricing)}-price auctions, ${sc.outages} store outage(s).${restartSentence(result)}${latencySentence(result)}
Every algorithm paces the same stream and campaigns (each campaign's mode set to the algorithm).</p>
${status}
<h2>Scores</h2>
${scoreTable(result)}
<p><sup>*</sup> ASAP has no target curve; its accuracy is measured against EVEN's. Accuracy, RMSE, deviation,
overshoot and utilisation are over budget-constrained campaign-days; the overspend bound is one
impression at the campaign's maximum bid per instance${sc.restarts ? ', plus the spend of notices whose reservation was lost in a crash (E)' : ''}.</p>
<h2>Charts</h2>
${figures.join('\n')}
</body></html>
`;
}
