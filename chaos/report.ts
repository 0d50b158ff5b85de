import type { FaultKind } from './faults';
import type { RunResult } from './run';

/** What a person needs to act on a run: its seed, its schedule, what broke, how to replay it. */
export function replayCommand(
  seed: number,
  minutes: number,
  instances: number,
  faults: readonly FaultKind[],
  allFaults: boolean,
): string {
  const f = allFaults ? '' : ` --faults ${faults.join(',')}`;
  return `npm run chaos -- --seed ${seed} --runs 1 --minutes ${minutes} --instances ${instances}${f}`;
}

export function formatRun(r: RunResult, replay: string): string {
  const s = r.stats;
  const head = `seed ${r.seed}: ${r.violations.length === 0 ? 'ok' : `${r.violations.length} VIOLATIONS`} (${(r.wallMs / 1000).toFixed(0)} s; ${s.decisions} decisions, ${s.allowed} allowed, ${s.acked}/${s.notices} notices acknowledged, ${s.journaled} journaled, ${s.duplicatesSent} duplicates, E ${s.exposureMicros} micros)`;
  const lines = [head];
  for (const f of r.faultLines) lines.push(`  fault  ${f}`);
  if (r.schedule.length === 0) lines.push('  fault  (none)');
  for (const c of r.campaigns) {
    const pct =
      c.maxDaySpentMicros === null ? '?' : ((c.maxDaySpentMicros / c.budgetMicros) * 100).toFixed(1);
    lines.push(
      `  campaign ${c.id}: budget ${c.budgetMicros}, Redis day ${c.maxDaySpentMicros ?? '?'} (${pct}%), acknowledged ${c.ackedMicros}, E ${c.exposureMicros}`,
    );
  }
  for (const v of r.violations)
    lines.push(`  VIOLATED ${v.invariant}${v.campaignId ? ` [${v.campaignId}]` : ''}: ${v.detail}`);
  if (r.lossDetail !== '') lines.push('  lost: notices acknowledged and not held', r.lossDetail);
  if (r.violations.length > 0) lines.push(`  replay: ${replay}`);
  return lines.join('\n');
}

function faultSummary(r: RunResult): string {
  if (r.schedule.length === 0) return '-';
  return r.faultLines.map((l) => l.replace(/ \(.*\)$/, '')).join('<br>');
}

/** A markdown table of runs, for bench/results/chaos.md. */
export function resultsTable(results: readonly RunResult[]): string {
  const rows = results.map((r) => {
    const v =
      r.violations.length === 0
        ? 'none'
        : r.violations.map((x) => `${x.invariant}${x.campaignId ? ` (${x.campaignId})` : ''}`).join('<br>');
    return `| ${r.seed} | ${faultSummary(r)} | ${r.stats.decisions} | ${r.stats.acked} | ${r.stats.journaled} | ${r.stats.exposureMicros} | ${v} |`;
  });
  return [
    '| seed | faults (start +duration, target) | decisions | notices acknowledged | journaled | E (micros) | violations |',
    '| ---: | --- | ---: | ---: | ---: | ---: | --- |',
    ...rows,
  ].join('\n');
}

/** How often each invariant broke, and with which fault kinds present. */
export function violationSummary(results: readonly RunResult[]): string {
  const byInvariant = new Map<string, { runs: number; seeds: number[]; kinds: Map<string, number> }>();
  for (const r of results) {
    const seen = new Set<string>();
    for (const v of r.violations) {
      if (seen.has(v.invariant)) continue;
      seen.add(v.invariant);
      const e = byInvariant.get(v.invariant) ?? {
        runs: 0,
        seeds: [] as number[],
        kinds: new Map<string, number>(),
      };
      e.runs++;
      e.seeds.push(r.seed);
      for (const k of new Set(r.schedule.map((f) => f.kind))) e.kinds.set(k, (e.kinds.get(k) ?? 0) + 1);
      byInvariant.set(v.invariant, e);
    }
  }
  if (byInvariant.size === 0) return 'No invariant was violated.';
  const rows = [...byInvariant].map(([inv, e]) => {
    const kinds = [...e.kinds]
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    return `| ${inv} | ${e.runs} | ${kinds} | ${e.seeds.slice(0, 12).join(', ')}${e.seeds.length > 12 ? ', ...' : ''} |`;
  });
  return [
    '| invariant | runs | fault kinds present in those runs (runs) | seeds |',
    '| --- | ---: | --- | --- |',
    ...rows,
  ].join('\n');
}
