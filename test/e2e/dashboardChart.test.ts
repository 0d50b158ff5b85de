import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_KEY, type TestApp, bearer, campaignBody, testApp } from '../server/http.harness';
import { type DashboardApp, dashboardApp } from '../support/dashboardApp';

/**
 * The dashboard's per-campaign view in Chromium: a spend-vs-target chart drawn as inline SVG by
 * the page itself, alerts, and a breaker and degraded-mode timeline, all updating from the
 * WebSocket without a reload, and no request to anything but the server.
 */
let t: TestApp;
let browser: Browser;
let base: string;
let post: DashboardApp['post'];
let app: DashboardApp;

beforeAll(async () => {
  // The "redis" kind, so the store can go away and the page show degraded mode.
  // The timeline shows the classic breaker opening at its trip ratio (precision is the default).
  ({ t, browser, base, post } = app = await dashboardApp(
    { BREAKER_MODE: 'classic' },
    { storeKind: 'redis' },
  ));
});

afterAll(async () => {
  await app?.close();
});

const attr = (page: Page, selector: string, name: string) => page.locator(selector).getAttribute(name);

describe('the dashboard chart in Chromium', () => {
  it('draws spend against target, alerts and timelines, and follows new spend live', async () => {
    expect((await post('/campaigns', campaignBody('chart-1', { daily_budget_cents: 10_000 }))).status).toBe(
      201,
    );
    expect(
      (await post('/spend/track', { campaign_id: 'chart-1', spend_cents: 1_000, event_id: 'c-1' })).status,
    ).toBe(200);
    const page = await browser.newPage();
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(msg.text());
    });
    await page.goto(`${base}/dashboard`);
    await page.locator('#conn', { hasText: 'live' }).waitFor();
    await page.locator('#detail-title', { hasText: 'chart-1' }).waitFor();

    // The target line follows EVEN's curve: 25 knots from 0 to the budget.
    await expect.poll(() => attr(page, '#target-line', 'd'), { timeout: 15_000 }).not.toBe('');
    const target = (await attr(page, '#target-line', 'd'))!;
    expect(target.match(/[ML]/g)).toHaveLength(25);
    // The spend line has marks and ends at the dot; the budget line sits above it.
    const before = (await attr(page, '#spend-line', 'd'))!;
    expect(before.match(/[ML]/g)!.length).toBeGreaterThanOrEqual(2);
    const dotY = Number(await attr(page, '#spend-dot', 'cy'));
    const budgetY = Number(await attr(page, '#budget-line', 'y1'));
    expect(dotY).toBeGreaterThan(budgetY);
    expect(await page.locator('#chart-grid text').count()).toBeGreaterThanOrEqual(10);

    // At noon with 10% spent, EVEN is behind its curve.
    await page.locator('#alerts li[data-code="PACING_BEHIND"]').waitFor();
    await page.locator('#breaker-segments rect[data-state="CLOSED"]').waitFor();
    await page.locator('#store-segments rect[data-state="healthy"]').waitFor();

    // A new spend moves the line up without a reload.
    const points = Number(await attr(page, '#spend-line', 'data-points'));
    expect(
      (await post('/spend/track', { campaign_id: 'chart-1', spend_cents: 4_000, event_id: 'c-2' })).status,
    ).toBe(200);
    await expect
      .poll(async () => Number(await attr(page, '#spend-line', 'data-points')), { timeout: 15_000 })
      .toBeGreaterThan(points);
    expect(Number(await attr(page, '#spend-dot', 'cy'))).toBeLessThan(dotY);
    await page.locator('tr[data-campaign-id="chart-1"] [data-field="spent"]', { hasText: '50.00' }).waitFor();

    // Past the trip ratio the breaker shows OPEN on the timeline (status reports it as of now).
    expect(
      (await post('/spend/track', { campaign_id: 'chart-1', spend_cents: 4_600, event_id: 'c-3' })).status,
    ).toBe(200);
    await page.locator('#breaker-segments rect[data-state="OPEN"]').waitFor();
    await page.locator('#alerts li[data-code="BREAKER_OPEN"]').waitFor();

    // The store goes away: the degraded stretch appears.
    t.store.down = true;
    await t.runtime.syncNow();
    await page.locator('#store-segments rect[data-state="degraded"]').waitFor();
    t.store.down = false;
    await t.runtime.syncNow();

    const origin = new URL(base);
    const outside = requests.filter((u) => {
      const url = new URL(u);
      return url.protocol !== 'data:' && url.host !== origin.host;
    });
    expect(outside).toEqual([]);
    expect(requests.some((u) => u.includes('/dashboard/day/chart-1'))).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);
});

describe('the dashboard chart behind API_KEY', () => {
  it('loads its chart data and socket with the read key given as ?key=, and nothing without it', async () => {
    const READ_KEY = 'read-key-0123456789abcdef';
    const guarded = await testApp({ API_KEY: API_KEY, API_READ_KEY: READ_KEY });
    try {
      await guarded.app.listen({ port: 0, host: '127.0.0.1' });
      const url = `http://127.0.0.1:${(guarded.app.server.address() as AddressInfo).port}`;
      const created = await fetch(`${url}/campaigns`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...bearer },
        body: JSON.stringify(campaignBody('locked-1', { daily_budget_cents: 10_000 })),
      });
      expect(created.status).toBe(201);
      expect((await fetch(`${url}/dashboard/day/locked-1`)).status).toBe(401);

      const page = await browser.newPage();
      const failed: string[] = [];
      page.on('response', (r) => {
        if (r.status() >= 400) failed.push(`${r.status()} ${r.url()}`);
      });
      await page.goto(`${url}/dashboard?key=${READ_KEY}`);
      await page.locator('#conn', { hasText: 'live' }).waitFor();
      await expect.poll(() => attr(page, '#target-line', 'd'), { timeout: 15_000 }).not.toBe('');
      await page.locator('#alerts li').first().waitFor();
      expect(failed).toEqual([]);
      await page.close();
    } finally {
      await guarded.close();
    }
  }, 120_000);
});
