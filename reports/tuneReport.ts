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

/** Utilisation first, then pacing error, clicks and overspend; accuracy last (its floor is 50%). */
export function evalTable(rows: readonly EvalRow[]): string {
  const spread = rows.some((r) => r.spread !== undefined);
  const head = `| run | tick / catch-up | utilisation | pacing error (RMSE, B/K) | max deviation | clicks${spread ? ' (first seed)' : ''} | clicks per unit spend | overspent days | max overspend | accuracy |${spread ? ' clicks over seeds: mean [min-max] | RMSE over seeds | overspent days over seeds |' : ''}`;
  const sep = `|---|---|---:|---:|---:|---:|---:|---:|---:|---:|${spread ? '---:|---:|---:|' : ''}`;
  const lines = rows.map((r) => {
    const s = r.summary;
    const p = r.spread;
    const extra = p
      ? ` ${p.clicksMean.toFixed(1)} [${p.clicksMin}-${p.clicksMax}] | ${p.rmseMean.toFixed(4)} | ${p.overspentCampaignDays} |`
      : spread
        ? ' - | - | - |'
        : '';
    return `| ${r.label} | ${r.gains.tickMs / 1000} s / ${r.gains.catchUpTicks} | ${pct(s.utilisationMeanConstrained)} | ${s.rmseNormalisedMean.toFixed(4)} | ${s.maxDeviationMean.toFixed(4)} | ${s.clicks} | ${clicksPerUnit(s.clicks, s.spendMicros)?.toFixed(4) ?? '-'} | ${s.overspentCampaignDays} | ${pct(s.maxOverspendShare)} | ${pct(s.accuracyMeanConstrained)} |${extra}`;
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
