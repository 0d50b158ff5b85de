import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NEEDS_REDIS, REDIS_SERVER } from '../support/binaries';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';
import { type ServerProcess, request, startServer, waitFor } from '../support/serverProcess';

/**
 * A frequency cap holds across instances: two server processes on one Redis answer bids for the
 * same user, sequentially and concurrently, and the capped campaign wins exactly its cap.
 */
const CAP = 3;

let redis: RedisServerHandle;
let servers: ServerProcess[] = [];
let root: string;

function bidFor(userId: string, id: string) {
  return {
    id,
    imp: [{ id: '1' }],
    device: { devicetype: 2, os: 'Linux', geo: { country: 'FRA' } },
    user: { id: userId },
  };
}

async function bidOn(server: ServerProcess, userId: string, id: string): Promise<number> {
  return (await request('POST', `${server.url}/bid`, bidFor(userId, id))).status;
}

describe.skipIf(REDIS_SERVER === null)(`${NEEDS_REDIS} frequency cap across two instances`, () => {
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'pacer-e2e-freq-'));
    redis = await startRedisServer();
    servers = await Promise.all(
      ['a', 'b'].map((x) =>
        startServer({ redisUrl: redis.url, journalDir: join(root, x), instanceId: `freq-${x}` }),
      ),
    );
    const created = await request('POST', `${servers[0]!.url}/campaigns`, {
      id: 'capped',
      daily_budget_cents: 100_000,
      max_bid_cents: 250,
      targeting: { geo: ['FRA'], frequency_cap_per_day: CAP },
    });
    expect(created.status).toBe(201);
    // The other instance picks the campaign up on its next refresh; warm-up users are all distinct.
    let n = 0;
    await waitFor(
      'instance b to bid for the campaign',
      async () => (await bidOn(servers[1]!, `warm-${n++}`, `w${n}`)) === 200,
    );
  }, 120_000);

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await redis?.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('sequential bids alternating between instances win exactly the cap', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push(await bidOn(servers[i % 2]!, 'seq-user', `seq-${i}`));
    expect(statuses).toEqual([200, 200, 200, 204, 204, 204, 204, 204]);
  });

  it('concurrent bids on both instances for one user win exactly the cap', async () => {
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => bidOn(servers[i % 2]!, 'race-user', `race-${i}`)),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(CAP);
    expect(statuses.filter((s) => s === 204)).toHaveLength(40 - CAP);
    // And the losers' no-bid says why.
    const again = await request('POST', `${servers[1]!.url}/bid`, bidFor('race-user', 'after'));
    expect(again.status).toBe(204);
  });
});
