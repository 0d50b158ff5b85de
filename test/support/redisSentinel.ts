import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rawCommand } from './redisCluster';
import { REDIS_SERVER_BIN, freePort } from './redisServer';

/**
 * A private Sentinel setup for one test file: a primary, one replica and three `redis-sentinel`
 * processes watching them under the name `pacer` (quorum 2, down after 1 s), each on a free port
 * in a temp dir. Every process is stopped by its pid, never by name.
 */
export const REDIS_SENTINEL_BIN = process.env.REDIS_SENTINEL_BIN ?? '/usr/bin/redis-sentinel';
export const SENTINEL_NAME = 'pacer';

export interface RedisProc {
  readonly port: number;
  readonly alive: () => boolean;
  kill(): Promise<void>;
}

export interface RedisSentinelHandle {
  readonly primary: RedisProc;
  readonly replica: RedisProc;
  readonly sentinels: readonly RedisProc[];
  /** host:port,... of the Sentinels, as REDIS_SENTINELS takes it. */
  readonly seeds: string;
  /** The port the Sentinels name as primary now. */
  currentPrimaryPort(): Promise<number>;
  dispose(): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function launch(bin: string, args: string[], port: number, what: string): Promise<RedisProc> {
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d.toString();
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  const proc: RedisProc = {
    port,
    alive,
    kill: async () => {
      if (!alive()) return;
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    },
  };
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}: ${stderr}`);
    if ((await rawCommand(port, ['PING'], 500).catch(() => '')).startsWith('+PONG')) return proc;
    await sleep(25);
  }
  await proc.kill();
  throw new Error(`${what} on ${port} did not answer within 5 s: ${stderr}`);
}

async function startRedis(dir: string, extra: string[] = []): Promise<RedisProc> {
  const port = await freePort();
  const d = join(dir, `redis-${port}`);
  mkdirSync(d);
  return launch(
    REDIS_SERVER_BIN,
    [
      ...['--port', String(port), '--bind', '127.0.0.1', '--dir', d, '--save', '', '--appendonly', 'no'],
      ...['--daemonize', 'no', '--loglevel', 'warning', ...extra],
    ],
    port,
    'redis-server',
  );
}

async function startSentinel(dir: string, primaryPort: number): Promise<RedisProc> {
  const port = await freePort();
  const conf = join(dir, `sentinel-${port}.conf`);
  // Sentinel rewrites its config file as it learns: it must be its own, writable file.
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      'daemonize no',
      'loglevel warning',
      `dir ${dir}`,
      `sentinel monitor ${SENTINEL_NAME} 127.0.0.1 ${primaryPort} 2`,
      `sentinel down-after-milliseconds ${SENTINEL_NAME} 1000`,
      `sentinel failover-timeout ${SENTINEL_NAME} 5000`,
      `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
      '',
    ].join('\n'),
  );
  return launch(REDIS_SENTINEL_BIN, [conf], port, 'redis-sentinel');
}

export async function startRedisSentinel(): Promise<RedisSentinelHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'pacer-sentinel-'));
  const procs: RedisProc[] = [];
  try {
    const primary = await startRedis(dir);
    procs.push(primary);
    const replica = await startRedis(dir, ['--replicaof', '127.0.0.1', String(primary.port)]);
    procs.push(replica);
    // Writes wait for a replica (WAIT 1): the replica must be in sync before anything is written.
    for (let i = 0; ; i++) {
      const info = await rawCommand(primary.port, ['INFO', 'replication']).catch(() => '');
      if (/slave0:.*state=online/.test(info)) break;
      if (i > 300) throw new Error(`replica never came in sync:\n${info}`);
      await sleep(50);
    }
    const sentinels: RedisProc[] = [];
    for (let i = 0; i < 3; i++) {
      const s = await startSentinel(dir, primary.port);
      sentinels.push(s);
      procs.push(s);
    }
    const handle: RedisSentinelHandle = {
      primary,
      replica,
      sentinels,
      seeds: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      async currentPrimaryPort() {
        for (const s of sentinels) {
          if (!s.alive()) continue;
          const reply = await rawCommand(s.port, [
            'SENTINEL',
            'get-master-addr-by-name',
            SENTINEL_NAME,
          ]).catch(() => '');
          const ports = [...reply.matchAll(/\r\n(\d+)\r\n/g)].map((m) => Number(m[1]));
          if (ports.length > 0) return ports[ports.length - 1]!;
        }
        throw new Error('no Sentinel named a primary');
      },
      async dispose() {
        for (const p of procs) await p.kill();
        rmSync(dir, { recursive: true, force: true });
      },
    };
    // Each Sentinel must have found the replica and the other Sentinels before a failover can work.
    for (let i = 0; ; i++) {
      let ready = true;
      for (const s of sentinels) {
        const reply = await rawCommand(s.port, ['SENTINEL', 'master', SENTINEL_NAME]).catch(() => '');
        const num = (field: string) =>
          Number(new RegExp(`${field}\\r\\n\\$\\d+\\r\\n(\\d+)`).exec(reply)?.[1] ?? 0);
        if (num('num-slaves') < 1 || num('num-other-sentinels') < 2) ready = false;
      }
      if (ready) break;
      if (i > 300) throw new Error('Sentinels did not discover the replica and each other within 15 s');
      await sleep(50);
    }
    return handle;
  } catch (err) {
    for (const p of procs) await p.kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
