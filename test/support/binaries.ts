import { constants, accessSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Where the external programs the tests need live: the path in the environment variable when it
 * is set, else the first of `names` found on PATH, else null. Never a hard-coded /usr/bin path:
 * Debian, Homebrew and Nix put them in different places.
 */
export function findExecutable(envVar: string, names: readonly string[]): string | null {
  const given = process.env[envVar];
  if (given) return given;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    for (const name of names) {
      const path = join(dir, name);
      try {
        accessSync(path, constants.X_OK);
        return path;
      } catch {
        // not here; keep looking
      }
    }
  }
  return null;
}

export const REDIS_SERVER = findExecutable('REDIS_SERVER_BIN', ['redis-server']);
export const CHROMIUM = findExecutable('CHROMIUM_BIN', ['chromium', 'chromium-browser', 'google-chrome']);

/**
 * Suite title prefixes of the tests that need these programs. A suite whose program is missing is
 * skipped under this title (the skip reason), and .ci/run fails when any such test was skipped:
 * a developer machine may lack Chromium, CI may not.
 */
export const NEEDS_REDIS = '[needs redis-server: install it or set REDIS_SERVER_BIN]';
export const NEEDS_CHROMIUM = '[needs chromium: install it or set CHROMIUM_BIN]';
