import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildReportHtml } from '../../reports/buildReport';
import { runScenario } from '../../sim/run';
import { smallScenario } from '../sim/fixtures';
import { CHROMIUM, NEEDS_CHROMIUM } from '../support/binaries';
import { launchChromium } from '../support/browser';

/**
 * The simulator's report in a real headless Chromium, offline: every chart must be drawn (an SVG
 * with marks) and the page must make no network request. Chromium comes from the system package.
 */
const OUT = resolve(import.meta.dirname, '../../out/e2e');

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe.skipIf(CHROMIUM === null)(`${NEEDS_CHROMIUM} simulation report in Chromium`, () => {
  it('opens offline with every chart drawn and the score table filled', async () => {
    const result = await runScenario(smallScenario());
    mkdirSync(OUT, { recursive: true });
    const file = join(OUT, 'report.html');
    writeFileSync(file, await buildReportHtml(result));
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith('file://')) requests.push(r.url());
    });
    await page.goto(`file://${file}`);
    const charts = await page.$$eval('figure', (figs) =>
      figs.map((f) => {
        const svg = f.querySelector('svg');
        const box = svg?.getBoundingClientRect();
        return {
          id: f.id,
          width: box?.width ?? 0,
          marks: svg ? svg.querySelectorAll('.role-mark path, .role-mark rect, .role-mark line').length : 0,
        };
      }),
    );
    expect(charts.map((c) => c.id)).toEqual([
      'chart-cumulative',
      'chart-spend-per-hour',
      'chart-throttle',
      'chart-breaker',
      'chart-degraded',
      'chart-traffic',
    ]);
    for (const c of charts) {
      expect(c.width, c.id).toBeGreaterThan(300);
      expect(c.marks, c.id).toBeGreaterThan(0);
    }
    // Lines are drawn with real geometry, not empty paths.
    const lineLength = await page.$eval('#chart-cumulative .mark-line path', (p) =>
      (p as unknown as { getTotalLength(): number }).getTotalLength(),
    );
    expect(lineLength).toBeGreaterThan(100);
    const cells = await page.$$eval('table.scores td', (tds) => tds.map((td) => td.textContent ?? ''));
    expect(cells.length).toBeGreaterThan(10);
    expect(cells.every((c) => c.trim() !== '')).toBe(true);
    const shot = await page.screenshot({ path: join(OUT, 'report.png'), fullPage: true });
    expect(shot.length).toBeGreaterThan(20_000);
    expect(requests).toEqual([]);
    await page.close();
  });
});
