import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEEDS_REDIS, REDIS_SERVER } from '../support/binaries';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';
import { type ServerProcess, request, startServer } from '../support/serverProcess';

/**
 * Two processes with one INSTANCE_ID (and different journal dirs) would share that id's budget
 * leases and spend them twice. The id is claimed in Redis under a boot id: the second process
 * refuses to start (exit 78), and a restart of the first after kill -9 gets it back by itself.
 */
let redis: RedisServerHandle;
let dir: string;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  dir = mkdtempSync(join(tmpdir(), 'pacer-id-'));
});

afterAll(async () => {
  for (const s of servers) await s.stop();
  await redis?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(REDIS_SERVER === null)(`${NEEDS_REDIS} one INSTANCE_ID, two processes`, () => {
  it('refuses the second with exit 78, and lets a killed first one come back', async () => {
    const first = await startServer({
      redisUrl: redis.url,
      journalDir: join(dir, 'a'),
      instanceId: 'pacer-x',
    });
    servers.push(first);
    const second = startServer({ redisUrl: redis.url, journalDir: join(dir, 'b'), instanceId: 'pacer-x' });
    const err = (await second.catch((e: unknown) => e)) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toMatch(/exited with 78/);
    expect(err.message).toMatch(/INSTANCE_ID "pacer-x" is held by another running server/);
    // The first one never noticed and still serves.
    expect((await request('GET', `${first.url}/health`)).status).toBe(200);
    await first.kill9();
    // Its claim outlives it by at most one TTL (5 s): the restart waits for it, then starts.
    await first.restart();
    const health = (await request('GET', `${first.url}/health`)).body as { status: string; ready: boolean };
    expect(health.status).toBe('healthy');
  }, 180_000);
});
