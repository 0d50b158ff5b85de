import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryJournal } from '../../core/journal';
import { MemoryStore } from '../../core/memoryStore';
import { EXIT_BAD_INPUT, EXIT_CHECK_FAILED, EXIT_OK, type Io, main } from '../../loadtest/cli';
import type { LoadTestSummary } from '../../loadtest/summary';
import { buildApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { createRuntime } from '../../server/runtime/runtime';
import { intervalTimers, monotonicClock } from '../../server/runtime/time';

let dir: string;
let runSeq = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pacer-loadtest-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io() {
  const out = { stdout: '', stderr: '' };
  const value: Io = {
    stdout: (s) => {
      out.stdout += s;
    },
    stderr: (s) => {
      out.stderr += s;
    },
    stderrIsTty: false,
    env: {},
    runTag: `t${runSeq++}`,
  };
  return { io: value, out };
}

function readSummary(outDir: string): LoadTestSummary {
  return JSON.parse(readFileSync(join(outDir, 'summary.json'), 'utf8')) as LoadTestSummary;
}

/** A server that answers like the pacer but books every win twice: its statuses show overspend. */
function overspendingServer(): Promise<http.Server> {
  const spent = new Map<string, number>();
  const budgets = new Map<string, number>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const b = body ? JSON.parse(body) : {};
      if (req.url === '/health') return send(200, { status: 'healthy' });
      if (req.url === '/campaigns' && req.method === 'POST') {
        budgets.set(b.id, Math.round(b.daily_budget_cents * 10_000));
        return send(201, b);
      }
      if (req.url === '/pacing/decision') {
        return send(200, {
          allow_bid: true,
          max_bid_cents: b.bid_cents,
          throttle_rate: 0,
          reason: 'within_budget',
        });
      }
      if (req.url === '/spend/track') {
        const micros = Math.round(b.spend_cents * 10_000);
        spent.set(b.campaign_id, (spent.get(b.campaign_id) ?? 0) + 2 * micros);
        return send(200, { counted: true, duplicate: false, journaled: false });
      }
      const m = /^\/budget\/status\/(.+)$/.exec(req.url ?? '');
      if (m) {
        const id = decodeURIComponent(m[1]!);
        return send(200, {
          daily_budget_micros: budgets.get(id),
          spent_today_micros: spent.get(id) ?? 0,
          reserved_micros: 0,
          breaker_state: 'CLOSED',
        });
      }
      send(404, {});
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

/** The real app on the embedded store, with the wall clock and real timers, as `npm start` runs it. */
async function realServer(env: Record<string, string> = {}): Promise<FastifyInstance> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...env }, { instanceId: 'lt-1' });
  const app = await buildApp(config, {
    runtime: (log) =>
      createRuntime({
        store: new MemoryStore(),
        journal: new MemoryJournal(),
        clock: monotonicClock(() => Date.now()),
        timers: intervalTimers,
        instanceId: config.instanceId,
        config: config.pacer,
        log,
        storeKind: 'embedded',
        // Leases top up every 50 ms instead of 250: the breaker run reaches its trip ratio in ~1 s.
        syncIntervalMs: 50,
      }),
    defaultMetrics: false,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return app;
}

const url = (port: number) => `http://127.0.0.1:${port}`;

describe('npm run loadtest', () => {
  it('exits 2 with a clear message on bad arguments, before sending anything', async () => {
    const { io: i, out } = io();
    expect(await main(['--target', 'http://127.0.0.1:1', '--qps', 'lots'], i)).toBe(EXIT_BAD_INPUT);
    expect(out.stderr).toMatch(/^loadtest: --qps "lots": expected a number from 0.1 to 1000000/);
    expect(out.stderr).toMatch(/Usage: npm run loadtest/);
  });

  it('exits 1 when the target does not answer', async () => {
    const { io: i, out } = io();
    const code = await main(['--target', 'http://127.0.0.1:1', '--duration', '1'], i);
    expect(code).toBe(EXIT_CHECK_FAILED);
    expect(out.stderr).toMatch(/health answered ECONNREFUSED: is the server running there\?/);
  });

  it('exits 1 when a campaign spends past its budget plus the bound', async () => {
    const server = await overspendingServer();
    const outDir = join(dir, 'over');
    try {
      const port = (server.address() as AddressInfo).port;
      const { io: i } = io();
      const code = await main(
        [
          ...['--target', url(port), '--setup', '--campaigns', '3', '--qps', '200', '--duration', '1'],
          ...['--spend-rate', '1', '--settle-ms', '500', '--out', outDir],
        ],
        i,
      );
      expect(code).toBe(EXIT_CHECK_FAILED);
      const s = readSummary(outDir);
      expect(s.ok).toBe(false);
      // The one small budget of the three (every tenth campaign) is overspent; all totals are doubled.
      expect(s.budgetCheck.violations.map((v) => v.campaignId)).toEqual([
        expect.stringMatching(/^lt-t\d+-00000$/),
      ]);
      expect(s.totalsCheck!.mismatches.length).toBe(3);
      expect(s.failures[0]).toMatch(/spent \d+ micros, past its budget \d+ \+ bound 5000/);
    } finally {
      server.close();
    }
  });

  it('passes against the real server, with percentiles and exact totals', async () => {
    const app = await realServer();
    const outDir = join(dir, 'real');
    try {
      const port = (app.server.address() as AddressInfo).port;
      const { io: i, out } = io();
      const code = await main(
        [
          ...['--target', url(port), '--setup', '--campaigns', '10', '--qps', '300', '--duration', '2'],
          ...['--spend-rate', '0.5', '--out', outDir],
        ],
        i,
      );
      expect(code, out.stdout).toBe(EXIT_OK);
      const s = readSummary(outDir);
      expect(s.completedRequests).toBe(600);
      expect(s.decisionLatencyMs.count).toBe(600);
      for (const k of ['p50', 'p95', 'p99', 'p999', 'max'] as const)
        expect(s.decisionLatencyMs[k]).toBeGreaterThan(0);
      expect(s.decisionLatencyMs.p99).toBeGreaterThanOrEqual(s.decisionLatencyMs.p50);
      expect(s.winNotices.counted).toBeGreaterThan(0);
      expect(s.totalsCheck).toEqual({ checked: 10, mismatches: [] });
      expect(s.budgetCheck.violations).toEqual([]);
      expect(readFileSync(join(outDir, 'summary.md'), 'utf8')).toMatch(/decision latency p50 \/ p95 \/ p99/);
    } finally {
      await app.close();
    }
  });

  it('circuit_breaker_test: drives small budgets into the breaker at the trip ratio', async () => {
    // The reference's breaker test is of the classic breaker (trip, cool-down); precision is the default.
    const app = await realServer({ BREAKER_MODE: 'classic', BREAKER_TRIP_RATIO: '0.9' });
    const outDir = join(dir, 'breaker');
    try {
      const port = (app.server.address() as AddressInfo).port;
      const { io: i, out } = io();
      const code = await main(
        [
          ...['--target', url(port), '--pattern', 'circuit_breaker_test', '--campaigns', '4'],
          ...['--qps', '400', '--duration', '3', '--trip-ratio', '0.9', '--out', outDir],
        ],
        i,
      );
      expect(code, out.stdout).toBe(EXIT_OK);
      const s = readSummary(outDir);
      expect(s.breakerCheck!.opened).toBeGreaterThan(0);
      expect(s.breakerCheck!.failures).toEqual([]);
      expect(s.decisionsByReason.circuit_open).toBeGreaterThan(0);
    } finally {
      await app.close();
    }
  });

  it('circuit_breaker_test fails when told the wrong trip ratio: the breaker opened earlier', async () => {
    const app = await realServer({ BREAKER_MODE: 'classic', BREAKER_TRIP_RATIO: '0.5' });
    const outDir = join(dir, 'breaker-wrong');
    try {
      const port = (app.server.address() as AddressInfo).port;
      const { io: i } = io();
      const code = await main(
        [
          ...['--target', url(port), '--pattern', 'circuit_breaker_test', '--campaigns', '2'],
          ...['--qps', '300', '--duration', '2', '--trip-ratio', '0.9', '--out', outDir],
        ],
        i,
      );
      expect(code).toBe(EXIT_CHECK_FAILED);
      expect(readSummary(outDir).failures.join('\n')).toMatch(/before the trip ratio 90.0%/);
    } finally {
      await app.close();
    }
  });
});
