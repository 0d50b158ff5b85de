import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { type TestApp, createCampaign, testApp } from '../server/http.harness';
import {
  RULES_FILE,
  alertsTestedFiring,
  loadRules,
  ruleTestFiles,
  seriesNames,
} from '../support/deployFiles';

/** promtool from Debian's `prometheus` package (.ci/run installs it when missing). */
function promtool(args: string[]): string {
  return execFileSync('promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('deploy/prometheus rules', () => {
  it('pass promtool check rules', () => {
    expect(promtool(['check', 'rules', RULES_FILE])).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('pass their promtool unit tests, which make every alert fire', () => {
    expect(promtool(['test', 'rules', ...ruleTestFiles()])).toMatch(/SUCCESS/);
    const alerts = loadRules().flatMap((r) => (r.alert === undefined ? [] : [r.alert]));
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    expect(alerts.filter((a) => !alertsTestedFiring().has(a))).toEqual([]);
  });

  it('give every alert a summary and a runbook line', () => {
    for (const r of loadRules().filter((x) => x.alert !== undefined)) {
      expect(r.annotations?.summary, r.alert).toMatch(/\w/);
      expect(r.annotations?.runbook, r.alert).toMatch(/\w{3,}.*\w{3,}/);
    }
  });

  it('read only metrics the server exports (or recording rules of the same file)', async () => {
    t = await testApp({}, { storeKind: 'redis' });
    await createCampaign(t, 'c1');
    await t.inject({
      method: 'POST',
      url: '/pacing/decision',
      payload: { campaign_id: 'c1', bid_cents: 100 },
    });
    const exposition = (await t.inject({ method: 'GET', url: '/metrics' })).body;
    const exported = new Set(
      exposition
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]),
    );
    // Prometheus adds `up` to every scrape target itself.
    exported.add('up');
    const rules = loadRules();
    for (const r of rules) if (r.record !== undefined) exported.add(r.record);
    const unknown = rules.flatMap((r) => seriesNames(r.expr).filter((n) => !exported.has(n)));
    expect(unknown).toEqual([]);
  });
});
