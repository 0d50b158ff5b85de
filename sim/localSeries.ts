import { curveFor, targetShare } from '../core/index';
import type { AlgorithmRun } from './algorithmRun';
import type { LocalDaySeries } from './result';
import { r6 } from './scores';
import type { World } from './world';

/**
 * The report's local-day panel: for each time zone and local day, the zone's campaigns' spend
 * and target by hour of that day, so a 23-hour day shows 23 buckets and its target reaches 1 at
 * its real end.
 */
export function localPacingSeries(run: AlgorithmRun, world: World): LocalDaySeries[] {
  const out: LocalDaySeries[] = [];
  const curves = run.campaigns.map((c) => curveFor(c));
  for (const zone of world.zones.values()) {
    const members: number[] = [];
    world.campaigns.forEach((c, i) => {
      if (c.timeZone === zone.timeZone) members.push(i);
    });
    const budget = members.reduce((a, c) => a + run.campaigns[c]!.dailyBudgetMicros, 0);
    for (let d = 0; d < run.days; d++) {
      const start = zone.boundaryMinutes[d]!;
      const K = zone.boundaryMinutes[d + 1]! - start;
      const spendShare: number[] = [];
      const targetShares: number[] = [];
      let spent = 0;
      for (let h = 0; h * 60 < K; h++) {
        const end = Math.min((h + 1) * 60, K);
        let target = 0;
        for (const c of members) {
          for (let m = start + h * 60; m < start + end; m++)
            spent += run.spendPerMinute[c * run.minutes + m]!;
          target += run.campaigns[c]!.dailyBudgetMicros * targetShare(curves[c]!, end / K);
        }
        spendShare.push(r6(spent / budget));
        targetShares.push(r6(target / budget));
      }
      out.push({
        algorithm: run.mode,
        timeZone: zone.timeZone,
        date: zone.dates[d]!,
        spendShare,
        targetShare: targetShares,
      });
    }
  }
  return out;
}
