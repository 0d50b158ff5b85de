import type { MultipliersFile } from '../sim/tune/multipliersFile';
import type { EvalRow, GainTrial } from '../sim/tune/tune';

/** Clicks per currency unit (1,000,000 micros) of spend. */
export function clicksPerUnit(clicks: number, spendMicros: number): number | null {
  return spendMicros > 0 ? Math.round((clicks / spendMicros) * 1e6 * 1e4) / 1e4 : null;
}

export interface TuneReportInput {
  readonly title: string;
  readonly notes: readonly string[];
  readonly file: MultipliersFile;
  readonly trials: readonly GainTrial[];
  readonly sections: readonly { readonly heading: string; readonly rows: readonly EvalRow[] }[];
}

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

export function evalTable(rows: readonly EvalRow[]): string {
  const head =
    '| run | tick / catch-up | pacing error (RMSE, B/K) | max deviation | accuracy | utilisation | overspent days | max overspend | clicks | spend (units) | clicks per unit spend |';
  const sep = '|---|---|---|---|---|---|---|---|---|---|---|';
  const lines = rows.map((r) => {
    const s = r.summary;
    return `| ${r.label} | ${r.gains.tickMs / 1000} s / ${r.gains.catchUpTicks} | ${s.rmseNormalisedMean.toFixed(4)} | ${s.maxDeviationMean.toFixed(4)} | ${pct(s.accuracyMeanConstrained)} | ${pct(s.utilisationMeanConstrained)} | ${s.overspentCampaignDays} | ${pct(s.maxOverspendShare)} | ${s.clicks} | ${(s.spendMicros / 1e6).toFixed(2)} | ${clicksPerUnit(s.clicks, s.spendMicros)?.toFixed(4) ?? '-'} |`;
  });
  return [head, sep, ...lines].join('\n');
}

/** The before/after report of a tune, as Markdown (the JSON twin is written beside it). */
export function tuneReportMarkdown(r: TuneReportInput): string {
  const m = r.file.hourlyMultipliers;
  const out = [
    `# ${r.title}`,
    '',
    ...r.notes.map((n) => `- ${n}`),
    '',
    '## Fitted multipliers (mean 1)',
    '',
    `Source: ${r.file.source}; basis ${r.file.fittedOn.basis}; ${r.file.fittedOn.requests} requests; hours observed: ${r.file.fittedOn.hoursObserved.length}.`,
    '',
    '| hour | ' + m.map((_, h) => String(h)).join(' | ') + ' |',
    '|---|' + m.map(() => '---').join('|') + '|',
    '| x | ' + m.map((x) => x.toFixed(2)).join(' | ') + ' |',
    '',
  ];
  if (r.trials.length > 0) {
    out.push('## Gain search (ADAPTIVE on the history, zero overspend, lowest RMSE wins)', '');
    out.push('| tick | catch-up ticks | RMSE | accuracy | overspent days |', '|---|---|---|---|---|');
    for (const t of r.trials)
      out.push(
        `| ${t.gains.tickMs / 1000} s | ${t.gains.catchUpTicks} | ${t.rmseNormalisedMean.toFixed(4)} | ${pct(t.accuracyMeanConstrained)} | ${t.overspentCampaignDays} |`,
      );
    out.push(
      '',
      `Picked: ${r.file.gains ? `tick ${r.file.gains.tickMs} ms, catch-up ${r.file.gains.catchUpTicks}` : 'defaults'}.`,
      '',
    );
  }
  for (const s of r.sections) out.push(`## ${s.heading}`, '', evalTable(s.rows), '');
  return `${out.join('\n')}\n`;
}
