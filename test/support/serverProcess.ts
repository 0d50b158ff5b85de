import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import { join } from 'node:path';
import { freePort } from './redisServer';

/**
 * One `server/main.ts` process for end-to-end tests, on 127.0.0.1 and a free port. Stopped by its
 * own pid (SIGTERM for a graceful stop, SIGKILL for a crash), never by name.
 */
export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly instanceId: string;
  readonly journalDir: string;
  pid(): number | undefined;
  /** stderr/stdout so far, for failure messages. */
  output(): string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
  /** Starts again with the same port, journal dir and instance id. */
  restart(): Promise<void>;
}

const ROOT = join(import.meta.dirname, '..', '..');
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export interface HttpResult {
  readonly status: number;
  readonly body: unknown;
}

/** A small JSON client on a keep-alive agent: fetch costs too much per request for 200k requests. */
export function request(
  method: string,
  url: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request(
      url,
      {
        method,
        agent,
        headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON (metrics): keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` every `everyMs` until it returns true; gives up after `attempts`. */
export async function waitFor(what: string, probe: () => Promise<boolean>, attempts = 300, everyMs = 100) {
  for (let i = 0; i < attempts; i++) {
    if (await probe().catch(() => false)) return;
    await sleep(everyMs);
  }
  throw new Error(`gave up waiting for ${what}`);
}

/**
 * Instances `${prefix}-a`, `-b`, ... on one Redis and one PostgreSQL, started one after the other
 * (the first creates the schema and the first generation), each journaling under `root`. Each is
 * pushed into `servers` as it starts, so the caller's afterAll stops them even if a later one fails.
 */
export async function startRecordedFleet(
  servers: ServerProcess[],
  o: { root: string; redisUrl: string; databaseUrl: string; prefix: string; size: number },
): Promise<void> {
  for (const x of 'abcdefgh'.slice(0, o.size)) {
    servers.push(
      await startServer({
        redisUrl: o.redisUrl,
        journalDir: join(o.root, x),
        instanceId: `${o.prefix}-${x}`,
        env: { DATABASE_URL: o.databaseUrl },
        startTimeoutMs: 90_000,
      }),
    );
  }
}

export async function startServer(opts: {
  /** null: no REDIS_URL (the embedded store, or a topology given in `env`). */
  redisUrl: string | null;
  journalDir: string;
  instanceId: string;
  env?: Record<string, string>;
  /** What node runs (default: server/main.ts through tsx); the fault harness runs a prebuilt bundle. */
  nodeArgs?: readonly string[];
  /** Longest wait for /health to answer after a (re)start (default 30 s). */
  startTimeoutMs?: number;
  /** Called with each process's pid as it is spawned: lets a caller stop a start still in flight. */
  onSpawn?: (pid: number) => void;
}): Promise<ServerProcess> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  let out = '';
  const url = `http://127.0.0.1:${port}`;

  const launch = async () => {
    out = '';
    const c = spawn(process.execPath, opts.nodeArgs ?? ['--import', 'tsx', join(ROOT, 'server', 'main.ts')], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...(opts.redisUrl === null ? {} : { REDIS_URL: opts.redisUrl }),
        PORT: String(port),
        HOST: '127.0.0.1',
        JOURNAL_DIR: opts.journalDir,
        // Each process its own embedded database unless a test shares one (DATABASE_URL): PGlite
        // cannot be opened by two processes, and ./data would leak into the work tree.
        DATA_DIR: join(opts.journalDir, 'data'),
        INSTANCE_ID: opts.instanceId,
        LOG_LEVEL: 'warn',
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    if (c.pid !== undefined) opts.onSpawn?.(c.pid);
    c.stdout!.on('data', (d) => {
      out += d.toString();
    });
    c.stderr!.on('data', (d) => {
      out += d.toString();
    });
    // waitFor swallows a probe's exception, so a process that exits at once (a refused config)
    // is noticed by its exit event instead of after the whole wait.
    let gone = false;
    const exitedEarly = new Promise<never>((_, reject) =>
      c.once('exit', (code, signal) => {
        gone = true;
        reject(new Error(`server exited with ${code ?? signal} before listening: ${out}`));
      }),
    );
    exitedEarly.catch(() => undefined);
    const ready = waitFor(
      `${opts.instanceId} to listen on ${port}:\n${out}`,
      async () => {
        if (gone) return true;
        // Up means ready (campaigns loaded: until then unknown ids answer 503), or degraded
        // without the store, which a test may mean to start into.
        const health = await request('GET', `${url}/health`);
        const body = health.body as { ready?: boolean; status?: string };
        return health.status === 200 && (body.ready !== false || body.status === 'degraded');
      },
      Math.ceil((opts.startTimeoutMs ?? 60_000) / 100),
    );
    try {
      await Promise.race([ready, exitedEarly]);
      if (gone) await exitedEarly;
    } catch (err) {
      // A server that never came up must not outlive the caller, which has no handle to stop it.
      c.kill('SIGKILL');
      throw err;
    }
  };

  const exited = (c: ChildProcess) =>
    c.exitCode !== null || c.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => c.once('exit', () => r()));

  await launch();
  return {
    url,
    port,
    instanceId: opts.instanceId,
    journalDir: opts.journalDir,
    pid: () => child?.pid,
    output: () => out,
    kill9: async () => {
      if (!child) return;
      child.kill('SIGKILL');
      await exited(child);
    },
    stop: async () => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const c = child;
      c.kill('SIGTERM');
      const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
      await exited(c);
      clearTimeout(t);
    },
    restart: async () => {
      await launch();
    },
  };
}
