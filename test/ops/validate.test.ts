import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryJournal } from '../../core/journal';
import { buildApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { createRuntime } from '../../server/runtime/runtime';
import { intervalTimers, monotonicClock } from '../../server/runtime/time';
import type { PacerRuntime } from '../../server/runtime/types';
import { EmbeddedStore } from '../../server/store/embeddedStore';
import { runOpsCli, verdicts } from '../support/opsCli';
import { type TestDatabase, createTestDatabase } from '../support/postgresDatabase';
import { type RedisServerHandle, freePort, startRedisServer } from '../support/redisServer';
import { type ServerProcess, startServer } from '../support/serverProcess';

/**
 * `npm run validate` and `npm run health` against a real server process on a private Redis (all
 * checks pass, exit 0), and validate against a deliberately broken server that counts every win
 * notice twice (the budget checks fail, exit 1). Latency limits are generous: the machine is
 * shared and tests never gate on wall-clock timings; the latency rows are checked elsewhere.
 */
const LOOSE = ['--max-p99-ms', '5000', '--decisions', '30', '--concurrent-spends', '200'];

let redis: RedisServerHandle;
let db: TestDatabase;
let server: ServerProcess;
let broken: FastifyInstance;
let brokenUrl: string;
let classic: FastifyInstance;
let classicUrl: string;
let root: string;

/** A real runtime whose trackSpend books each notice a second time under another event id. */
function doubleCounting(runtime: PacerRuntime): PacerRuntime {
  return new Proxy(runtime, {
    get(target, prop) {
      if (prop === 'trackSpend') {
        return async (input: Parameters<PacerRuntime['trackSpend']>[0]) => {
          const outcome = await target.trackSpend(input);
          await target.trackSpend({ ...input, eventId: `${input.eventId}#again` });
          return outcome;
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pacer-validate-'));
  redis = await startRedisServer();
  db = await createTestDatabase('validate_ops');
  server = await startServer({
    redisUrl: redis.url,
    journalDir: join(root, 'j'),
    instanceId: 'validate-a',
    // The default (precision) breaker; the classic one is validated against the in-process server.
    env: { BREAKER_COOLDOWN_MS: '1000', DATABASE_URL: db.url },
    startTimeoutMs: 90_000,
  });
  const config = loadConfig(
    { LOG_LEVEL: 'silent', BREAKER_MODE: 'classic', BREAKER_COOLDOWN_MS: '1000' },
    { instanceId: 'broken' },
  );
  const embedded = (wrap: (r: PacerRuntime) => PacerRuntime) =>
    buildApp(config, {
      runtime: (log) =>
        wrap(
          createRuntime({
            store: new EmbeddedStore(),
            journal: new MemoryJournal(),
            clock: monotonicClock(() => Date.now()),
            timers: intervalTimers,
            instanceId: config.instanceId,
            config: config.pacer,
            log,
            storeKind: 'embedded',
          }),
        ),
      defaultMetrics: false,
    });
  broken = await embedded(doubleCounting);
  brokenUrl = await broken.listen({ host: '127.0.0.1', port: 0 });
  classic = await embedded((r) => r);
  classicUrl = await classic.listen({ host: '127.0.0.1', port: 0 });
}, 180_000);

afterAll(async () => {
  await broken?.close();
  await classic?.close();
  await server?.stop();
  await redis?.dispose();
  await db?.drop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe('npm run validate', () => {
  it('passes every check against a healthy deployment on Redis, and exits 0', async () => {
    const r = await runOpsCli('validate', ['--url', server.url, '--breaker-cooldown-ms', '1000', ...LOOSE]);
    expect(verdicts(r.stdout), r.stdout + r.stderr).toEqual({
      connectivity: 'PASS',
      'p99 decision latency': 'PASS',
      'budget tracking exact': 'PASS',
      'breaker trips at the ratio': 'PASS',
      'pacing modes behave': 'PASS',
      'concurrent spends': 'PASS',
      recovery: 'PASS',
      persistence: 'PASS',
    });
    expect(r.code).toBe(0);
    // It cleaned up after itself.
    const left = (await (await fetch(`${server.url}/campaigns`)).json()) as { campaigns: { id: string }[] };
    expect(left.campaigns.filter((c) => c.id.startsWith('validate-'))).toEqual([]);
  }, 120_000);

  it('checks the classic breaker (trip at the ratio, cool-down) with --breaker-mode classic', async () => {
    const args = ['--url', classicUrl, '--breaker-cooldown-ms', '1000', ...LOOSE];
    const r = await runOpsCli('validate', [...args, '--breaker-mode', 'classic']);
    const v = verdicts(r.stdout);
    expect(v['breaker trips at the ratio'], r.stdout).toBe('PASS');
    expect(v.recovery, r.stdout).toBe('PASS');
    expect(r.stdout).toMatch(/at 94%: CLOSED, \w+; at 96%: OPEN, circuit_open/);
    // The same classic server fails the precision check, saying what to pass.
    const wrong = await runOpsCli('validate', args);
    expect(verdicts(wrong.stdout)['breaker trips at the ratio'], wrong.stdout).toBe('FAIL');
    expect(wrong.stdout).toMatch(/pass --breaker-mode classic/);
    expect(wrong.code).toBe(1);
  }, 120_000);

  it('fails the budget checks against a server that double-counts spend, and exits 1', async () => {
    const args = ['--url', brokenUrl, '--breaker-cooldown-ms', '1000', '--breaker-mode', 'classic'];
    const r = await runOpsCli('validate', [...args, ...LOOSE]);
    const v = verdicts(r.stdout);
    expect(v['budget tracking exact'], r.stdout).toBe('FAIL');
    expect(v['concurrent spends'], r.stdout).toBe('FAIL');
    expect(v.connectivity).toBe('PASS');
    expect(r.stdout).toMatch(
      /budget tracking exact\s+FAIL\s+7 notices sent twice each: expected (\d+) micros, status shows \d+/,
    );
    expect(r.code).toBe(1);
  }, 120_000);

  it('exits 2 with the usage on bad arguments', async () => {
    const r = await runOpsCli('validate', ['--url', 'localhost:8080']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--url localhost:8080 must look like http:\/\/host:port/);
    const mode = await runOpsCli('validate', ['--url', 'http://127.0.0.1:1', '--breaker-mode', 'fast']);
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(/--breaker-mode must be precision or classic, not "fast"/);
  });
});

describe('npm run health', () => {
  it('passes against a healthy instance, reading Redis memory directly, and exits 0', async () => {
    const r = await runOpsCli('health', [
      '--url',
      server.url,
      '--redis-url',
      redis.url,
      '--max-latency-ms',
      '5000',
    ]);
    const v = verdicts(r.stdout);
    expect(v, r.stdout + r.stderr).toMatchObject({
      liveness: 'PASS',
      readiness: 'PASS',
      store: 'PASS',
      'journal backlog': 'PASS',
      postgresql: 'PASS',
      'redis memory': 'PASS',
      'latency sample': 'PASS',
      metrics: 'PASS',
    });
    expect(Object.values(v)).not.toContain('FAIL');
    expect(r.stdout).toMatch(/redis memory\s+PASS\s+used \S+, maxmemory unlimited, policy noeviction/);
    expect(r.code).toBe(0);
  }, 60_000);

  it('fails, with the cause, against an address where nothing listens, and exits 1', async () => {
    // A free port nobody listens on (fetch refuses to dial well-known ports such as 1).
    const r = await runOpsCli('health', ['--url', `http://127.0.0.1:${await freePort()}`, '--samples', '2']);
    expect(verdicts(r.stdout).liveness).toBe('FAIL');
    expect(r.stdout).toMatch(/ECONNREFUSED/);
    expect(r.code).toBe(1);
  }, 60_000);
});
