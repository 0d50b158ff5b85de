import { type Browser, chromium } from 'playwright-core';
import { CHROMIUM } from './binaries';

/** Headless Chromium with the flags this machine needs (no sandbox as root, no background network). */
export async function launchChromium(): Promise<Browser> {
  // The system's Chromium (CHROMIUM_BIN or PATH); the tests never download a browser of their own.
  if (CHROMIUM === null)
    throw new Error('chromium is missing: run "apt-get install -y chromium" or set CHROMIUM_BIN');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
