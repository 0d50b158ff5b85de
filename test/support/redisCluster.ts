import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REDIS_SERVER_BIN, freePort } from './redisServer';

/**
 * A private Redis Cluster for one test file: six `redis-server --cluster-enabled yes` processes
 * (three primaries, one replica each) on free ports in a temp dir, joined by
 * `redis-cli --cluster create`. Failover is quick (node timeout 1 s). Every process is stopped by
 * its pid, never by name.
 */
export interface ClusterNode {
  readonly port: number;
  readonly pid: () => number | undefined;
  /** SIGKILL: a primary that dies without a word. */
  kill(): Promise<void>;
  readonly alive: () => boolean;
}

export interface RedisClusterHandle {
  readonly nodes: readonly ClusterNode[];
  /** host:port,... of every node, as REDIS_CLUSTER_NODES takes it. */
  readonly seeds: string;
  /** The nodes that are primaries now, with the slot ranges they serve. */
  primaries(): Promise<{ node: ClusterNode; slots: string }[]>;
  /**
   * Waits until every slot is served, the cluster says ok from every live node, and each of the
   * three primaries has a replica in sync (unless `replicas: false`: after a failover the promoted
   * replica has none).
   */
  waitHealthy(timeoutMs?: number, opts?: { replicas?: boolean }): Promise<void>;
  dispose(): Promise<void>;
}

export const REDIS_CLI_BIN = process.env.REDIS_CLI_BIN ?? '/usr/bin/redis-cli';
const run = promisify(execFile);

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One command over a fresh connection; the raw RESP reply. */
export function rawCommand(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    let expected = -1;
    const done = (err: Error | null) => {
      sock.destroy();
      if (err) reject(err);
      else resolve(data);
    };
    sock.setTimeout(timeoutMs, () => done(new Error(`redis on ${port}: no answer to ${args[0]}`)));
    sock.on('connect', () => {
      let s = `*${args.length}\r\n`;
      for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
      sock.write(s);
    });
    sock.on('data', (d) => {
      data += d.toString('utf8');
      // A bulk string ($n) is complete once its n bytes and CRLF arrived; other replies end with CRLF.
      const m = /^\$(\d+)\r\n/.exec(data);
      if (m) expected = m[0].length + Number(m[1]) + 2;
      if (expected >= 0 ? Buffer.byteLength(data) >= expected : data.endsWith('\r\n')) done(null);
    });
    sock.on('error', (e) => done(e));
    sock.on('close', () => done(null));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

async function startNode(dir: string): Promise<ClusterNode> {
  const port = await freePort();
  const busPort = await freePort();
  const nodeDir = join(dir, String(port));
  mkdirSync(nodeDir);
  const child = spawn(
    REDIS_SERVER_BIN,
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', nodeDir],
      ...['--cluster-enabled', 'yes', '--cluster-port', String(busPort)],
      ...['--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000'],
      // A replica takes over however long it was cut off: the tests kill primaries on purpose.
      ...['--cluster-replica-validity-factor', '0'],
      ...['--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d.toString();
  });
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}: ${stderr}`);
    if ((await rawCommand(port, ['PING'], 500).catch(() => '')).startsWith('+PONG')) {
      return {
        port,
        pid: () => child.pid,
        alive: () => child.exitCode === null && child.signalCode === null,
        kill: async () => {
          child.kill('SIGKILL');
          await exited(child);
        },
      };
    }
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`cluster node on ${port} did not answer within 5 s: ${stderr}`);
}

export async function startRedisCluster(): Promise<RedisClusterHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'pacer-cluster-'));
  const nodes: ClusterNode[] = [];
  try {
    for (let i = 0; i < 6; i++) nodes.push(await startNode(dir));
    await run(
      REDIS_CLI_BIN,
      [
        '--cluster',
        'create',
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        '--cluster-replicas',
        '1',
        '--cluster-yes',
      ],
      { timeout: 30_000 },
    );
  } catch (err) {
    for (const n of nodes) await n.kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const clusterNodes = async () => {
    for (const n of nodes) {
      if (!n.alive()) continue;
      const reply = await rawCommand(n.port, ['CLUSTER', 'NODES']).catch(() => '');
      if (reply.startsWith('$')) return reply;
    }
    throw new Error('no live cluster node answered CLUSTER NODES');
  };

  const handle: RedisClusterHandle = {
    nodes,
    seeds: nodes.map((n) => `127.0.0.1:${n.port}`).join(','),
    async primaries() {
      const out: { node: ClusterNode; slots: string }[] = [];
      for (const line of (await clusterNodes()).split('\n')) {
        const f = line.trim().split(' ');
        if (f.length < 8 || !f[2]!.includes('master') || f[2]!.includes('fail')) continue;
        const port = Number(/:(\d+)@/.exec(f[1]!)?.[1]);
        const node = nodes.find((n) => n.port === port);
        if (node?.alive()) out.push({ node, slots: f.slice(8).join(' ') });
      }
      return out;
    },
    async waitHealthy(timeoutMs = 30_000, opts = {}) {
      const needReplicas = opts.replicas ?? true;
      const until = Date.now() + timeoutMs;
      for (;;) {
        let ok = true;
        for (const n of nodes) {
          if (!n.alive()) continue;
          const info = await rawCommand(n.port, ['CLUSTER', 'INFO']).catch(() => '');
          if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) ok = false;
        }
        const primaries = ok ? await handle.primaries() : [];
        // Writes wait for a replica (WAIT 1): each primary needs one in sync before the tests write.
        for (const p of needReplicas ? primaries : []) {
          const repl = await rawCommand(p.node.port, ['INFO', 'replication']).catch(() => '');
          if (!/slave0:.*state=online/.test(repl)) ok = false;
        }
        if (ok && primaries.length === 3) return;
        if (Date.now() > until)
          throw new Error(`cluster not healthy within ${timeoutMs} ms:\n${await clusterNodes()}`);
        await sleep(100);
      }
    },
    async dispose() {
      for (const n of nodes) await n.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await handle.waitHealthy();
  return handle;
}
