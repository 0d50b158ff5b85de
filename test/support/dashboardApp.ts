import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { type TestApp, testApp } from '../server/http.harness';
import { launchChromium } from './browser';

/** The server on a real socket and a headless Chromium to look at its pages. */
export interface DashboardApp {
  readonly t: TestApp;
  readonly browser: Browser;
  /** http://127.0.0.1:<port> */
  readonly base: string;
  /** POSTs a JSON body to the server. */
  post(path: string, body: unknown): Promise<Response>;
  close(): Promise<void>;
}

export async function dashboardApp(...args: Parameters<typeof testApp>): Promise<DashboardApp> {
  const t = await testApp(...args);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const browser = await launchChromium().catch(async (err) => {
    await t.close();
    throw err;
  });
  return {
    t,
    browser,
    base,
    post: (path, body) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }),
    async close() {
      await browser.close();
      await t.close();
    },
  };
}
