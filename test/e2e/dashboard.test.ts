import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestApp, campaignBody } from '../server/http.harness';
import { CHROMIUM, NEEDS_CHROMIUM } from '../support/binaries';
import { type DashboardApp, dashboardApp } from '../support/dashboardApp';

/**
 * The dashboard in a real headless Chromium against the real server on a real socket: a spend
 * posted to the API must appear on the page through the WebSocket, with no reload.
 * Chromium comes from the system package (apt-get install chromium); nothing is downloaded.
 */

let t: TestApp;
let browser: Browser;
let base: string;
let post: DashboardApp['post'];
let app: DashboardApp;

beforeAll(async () => {
  ({ t, browser, base, post } = app = await dashboardApp());
});

afterAll(async () => {
  await app?.close();
});

describe.skipIf(CHROMIUM === null)(`${NEEDS_CHROMIUM} GET /dashboard in Chromium`, () => {
  it('lists campaigns and shows a spend made through the API, live', async () => {
    expect((await post('/campaigns', campaignBody('camp-e2e', { daily_budget_cents: 500_000 }))).status).toBe(
      201,
    );
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(msg.text());
    });
    await page.goto(`${base}/dashboard`);
    await page.locator('#conn', { hasText: 'live' }).waitFor();
    const row = page.locator('tr[data-campaign-id="camp-e2e"]');
    await expect(row.locator('[data-field="spent"]').textContent()).resolves.toBe('0.00');
    await expect(row.locator('[data-field="budget"]').textContent()).resolves.toBe('5,000.00');

    const spend = await post('/spend/track', {
      campaign_id: 'camp-e2e',
      spend_cents: 123_450,
      event_id: 'e2e-1',
    });
    expect(spend.status).toBe(200);
    await row.locator('[data-field="spent"]', { hasText: '1,234.50' }).waitFor();
    await expect(row.locator('[data-field="util"]').textContent()).resolves.toBe('24.7%');
    await expect(row.locator('[data-field="breaker"]').textContent()).resolves.toBe('CLOSED');

    // A campaign created after the page loaded appears too.
    expect((await post('/campaigns', campaignBody('camp-late'))).status).toBe(201);
    await page.locator('tr[data-campaign-id="camp-late"]').waitFor();
    expect(problems).toEqual([]);
    await page.close();
  });
});
