import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as tuneMain } from '../../cli/tune';
import { writeScriptedRecording } from '../support/pacerRecording';
import { captureIo } from './fixtures';

/**
 * `npm run tune -- <scenario> --from <recording dir>`: per campaign, in its own clock hours, the
 * body of POST /pacing/mode; a pacer-log scenario without --from is tuned on its own recording.
 */
const dir = mkdtempSync(join(tmpdir(), 'tune-server-'));
const rec = join(dir, 'rec');
const START = Date.parse('2024-03-15T00:00:00Z');
let scenario = '';

beforeAll(async () => {
  // Hours 09:00-12:20 UTC: 05:00-08:20 in New York (daylight time since March 10), 18:00-21:20 in Tokyo.
  await writeScriptedRecording(rec, {
    campaigns: { ny: 'America/New_York', tokyo: 'Asia/Tokyo' },
    startMs: START + 9 * 3_600_000,
    requests: 6000,
    everyMs: 2000,
    bidMicros: 2_000_000,
    allowShare: 0.7,
  });
  scenario = join(dir, 'replay.yaml');
  writeFileSync(
    scenario,
    `name: replay-tune
seed: 2
startDate: '2024-03-15'
algorithms: [EVEN, ADAPTIVE]
stream: { kind: pacer-log, path: rec }
campaigns:
  list:
    - { id: ny, dailyBudgetMicros: 3000000, bidCpmMicros: 2000000, participation: 1 }
    - { id: tokyo, dailyBudgetMicros: 3000000, bidCpmMicros: 2000000, participation: 1 }
`,
  );
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tune --from the server recording', () => {
  it('writes each campaign POST /pacing/mode body, fitted in its own clock hours', async () => {
    const out = join(dir, 'out');
    const t = captureIo();
    expect(await tuneMain([scenario, '--from', rec, '--no-search', '--out', out], t.io)).toBe(0);
    expect(readdirSync(join(out, 'pacing-mode')).sort()).toEqual(['ny.json', 'tokyo.json']);
    const ny = JSON.parse(readFileSync(join(out, 'pacing-mode', 'ny.json'), 'utf8'));
    expect(Object.keys(ny)).toEqual(['campaign_id', 'pacing_mode', 'hourly_multipliers']);
    expect(ny.campaign_id).toBe('ny');
    expect(ny.pacing_mode).toBe('ADAPTIVE');
    const fit = JSON.parse(readFileSync(join(out, 'server-fit.json'), 'utf8'));
    const byId = Object.fromEntries(fit.campaigns.map((c: { campaignId: string }) => [c.campaignId, c]));
    expect(byId.ny.hoursObserved).toEqual([5, 6, 7, 8]);
    expect(byId.tokyo.hoursObserved).toEqual([18, 19, 20, 21]);
    expect(byId.ny.hourlyMultipliers).toEqual(ny.hourly_multipliers);
    // Three full hours and a third of one: 1.2 each for the full ones, 0.4 for the third.
    expect(ny.hourly_multipliers.slice(5, 9)).toEqual([1.2, 1.2, 1.2, 0.4]);
    expect(byId.ny.dayOfWeekMultipliers.fri).toBe(1);
  });

  it('fits a pacer-log scenario on its own recording without --from, and says it is in-sample', async () => {
    const out = join(dir, 'own');
    const t = captureIo();
    expect(await tuneMain([scenario, '--no-search', '--out', out], t.io)).toBe(0);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toMatch(/server recording .*rec: 2 campaign\(s\)/);
    expect(report).toMatch(/in-sample/);
    expect(readFileSync(join(out, 'pacing-mode', 'tokyo.json'), 'utf8')).toBe(
      readFileSync(join(dir, 'out', 'pacing-mode', 'tokyo.json'), 'utf8'),
    );
  });

  it('exits 2 on a basis the server history does not hold, or a database it cannot read', async () => {
    const t = captureIo();
    expect(await tuneMain([scenario, '--from', rec, '--basis', 'pctr', '--out', join(dir, 'x')], t.io)).toBe(
      2,
    );
    expect(t.err.join('')).toMatch(/--basis pctr: the server's history holds requests and cost/);
    const u = captureIo();
    expect(
      await tuneMain(
        [scenario, '--from', 'postgres://nobody:secret@127.0.0.1:1/none', '--out', join(dir, 'y')],
        u.io,
      ),
    ).toBe(2);
    expect(u.err.join('')).toMatch(/cannot read the records database/);
    expect(u.err.join('')).not.toMatch(/secret/);
  });
});
