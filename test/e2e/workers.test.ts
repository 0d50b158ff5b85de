import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dayWindowAt } from '../../core/index';
import { RedisStore } from '../../server/store/redisStore';
import { type RedisServerHandle, startRedisServer } from '../support/redisServer';
import { type ServerProcess, request, startServer, waitFor } from '../support/serverProcess';

/**
 * WORKERS=2: one server command, two processes on one port, each its own instance on the shared
 * Redis. Both answer; SIGTERM to the primary stops both, and each flushes its spend first.
 */
let redis: RedisServerHandle;
let server: ServerProcess;
let root: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'pacer-e2e-workers-'));
  redis = await startRedisServer();
  server = await startServer({
    redisUrl: redis.url,
    journalDir: root,
    instanceId: 'wk',
    env: { WORKERS: '2', LOG_LEVEL: 'info' },
  });
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await redis?.dispose();
  rmSync(root, { recursive: true, force: true });
});

function children(pid: number): number[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

/** GET /health on a connection of its own (no keep-alive agent): the instance that answered. */
function healthOnNewConnection(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/health`, { agent: false, timeout: 5_000 }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => {
        text += c.toString();
      });
      res.on('end', () => resolve((JSON.parse(text) as { instance_id: string }).instance_id));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('GET /health timed out')));
    req.on('error', reject);
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('WORKERS=2', () => {
  it('serves from two instances on one port, and SIGTERM stops both with their spend flushed', async () => {
    const primary = server.pid()!;
    // Other children may come and go at start (tsx's esbuild service): wait for the two workers.
    await waitFor('the primary to have exactly its two workers', async () => children(primary).length === 2);
    const workers = children(primary);
    expect(workers.length).toBe(2);

    // Connections are handed to the workers in turn: new connections reach both. Each probe
    // opens its own: kept-alive sockets made while only the first worker listened would stay
    // with it for good (seen: every probe answered by wk-w0).
    const seen = new Set<string>();
    await waitFor('both workers to answer /health', async () => {
      const answers = await Promise.all(Array.from({ length: 16 }, () => healthOnNewConnection(server.url)));
      for (const id of answers) seen.add(id);
      return seen.size === 2;
    });
    expect([...seen].sort()).toEqual(['wk-w0', 'wk-w1']);

    const created = await request('POST', `${server.url}/campaigns`, {
      id: 'wk-c1',
      daily_budget_cents: 100_000,
      pacing_mode: 'ASAP',
    });
    expect(created.status).toBe(201);
    // The other worker picks the campaign up from Redis within its refresh (5 s).
    await waitFor(
      'both workers to know the campaign',
      async () => {
        const answers = await Promise.all(
          Array.from({ length: 16 }, () => request('GET', `${server.url}/budget/status/wk-c1`)),
        );
        return answers.every((a) => a.status === 200);
      },
      200,
    );

    let countedMicros = 0;
    const spendingInstances = new Set<string>();
    await Promise.all(
      Array.from({ length: 200 }, async (_, n) => {
        const d = await request('POST', `${server.url}/pacing/decision`, {
          campaign_id: 'wk-c1',
          bid_cents: 200,
          request_id: `wk-r${n}`,
        });
        expect(d.status).toBe(200);
        if (!(d.body as { allow_bid: boolean }).allow_bid) return;
        const t = await request('POST', `${server.url}/spend/track`, {
          campaign_id: 'wk-c1',
          spend_cents: 0.2,
          event_id: `wk-e${n}`,
          request_id: `wk-r${n}`,
        });
        expect(t.status).toBe(200);
        if ((t.body as { counted: boolean }).counted) countedMicros += 2_000;
      }),
    );
    expect(countedMicros).toBeGreaterThan(0);

    // At once, before a background sync has necessarily run: shutdown itself must flush.
    await server.stop();
    expect(alive(primary)).toBe(false);
    for (const w of workers) expect(alive(w), `worker ${w}`).toBe(false);
    expect(server.output()).toMatch(/SIGTERM: stopping 2 workers/);
    expect(server.output().match(/shut down cleanly: spend flushed/g)?.length).toBe(2);

    const store = new RedisStore({ url: redis.url });
    try {
      const [snap] = await store.readDays([
        { campaignId: 'wk-c1', dayKey: dayWindowAt('UTC', Date.now()).key },
      ]);
      expect(snap!.spentMicros).toBe(countedMicros);
      for (const id of Object.keys(snap!.spentByInstance)) spendingInstances.add(id);
      // Both workers booked spend of their own, under their own instance ids.
      expect([...spendingInstances].sort()).toEqual(['wk-w0', 'wk-w1']);
    } finally {
      await store.close();
    }
  }, 120_000);
});
