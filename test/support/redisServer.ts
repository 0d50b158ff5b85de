import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A private redis-server for one test file: its own port, its own temp dir, no persistence unless a
 * test asks for a saved shutdown. Stopped by its pid, never by name.
 */
export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly pid: () => number | undefined;
  /** Stops the server. `save: true` writes the dataset first so a restart finds it (a planned outage). */
  stop(opts?: { save?: boolean }): Promise<void>;
  /**
   * Stops (if running) and starts again on the same port and dir. With `save: true` the dataset
   * survives; a server already stopped with `stop({save: true})` reloads what it saved.
   */
  restart(opts?: { save?: boolean }): Promise<void>;
  /** SIGSTOP / SIGCONT: a server that hangs instead of refusing connections. */
  pause(): void;
  resume(): void;
  /** Sends one command over a fresh connection and returns the raw RESP reply. */
  command(...args: string[]): Promise<string>;
  /** Stops the server and removes its dir: for afterAll. */
  dispose(): Promise<void>;
}

export const REDIS_SERVER_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function encode(args: string[]): string {
  let s = `*${args.length}\r\n`;
  for (const a of args) s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return s;
}

function rawCommand(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const done = (err: Error | null) => {
      sock.destroy();
      if (err) reject(err);
      else resolve(data);
    };
    sock.setTimeout(timeoutMs, () => done(new Error(`redis on ${port}: no answer to ${args[0]}`)));
    sock.on('connect', () => sock.write(encode(args)));
    sock.on('data', (d) => {
      data += d.toString('utf8');
      if (data.endsWith('\r\n')) done(null);
    });
    sock.on('error', (e) => done(e));
    sock.on('close', () => done(null));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

export interface RedisServerOptions {
  /**
   * More redis-server arguments, after the defaults (a later one wins): the fault harness turns on
   * `--appendonly yes` so a SIGKILLed server comes back with its data.
   */
  readonly extraArgs?: readonly string[];
}

export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'pacer-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const launch = async () => {
    const c = spawn(
      REDIS_SERVER_BIN,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
        ...(opts.extraArgs ?? []),
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = c;
    let stderr = '';
    c.stderr?.on('data', (d) => {
      stderr += d.toString();
    });
    // Bounded wait for the port to answer PING: 200 x 25 ms.
    for (let i = 0; i < 200; i++) {
      if (c.exitCode !== null) throw new Error(`redis-server exited with ${c.exitCode}: ${stderr}`);
      try {
        if ((await rawCommand(port, ['PING'], 500)).startsWith('+PONG')) return;
      } catch {
        // not listening yet
      }
      await sleep(25);
    }
    c.kill('SIGKILL');
    throw new Error(`redis-server on port ${port} did not answer within 5 s: ${stderr}`);
  };

  const stop = async (opts: { save?: boolean } = {}) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    // A paused server must run again to obey SHUTDOWN (SIGKILL works either way).
    c.kill('SIGCONT');
    if (opts.save) {
      await rawCommand(port, ['SHUTDOWN', 'SAVE']).catch(() => undefined);
      const t = setTimeout(() => c.kill('SIGKILL'), 5000);
      await exited(c);
      clearTimeout(t);
    } else {
      c.kill('SIGKILL');
      await exited(c);
    }
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    pid: () => child?.pid,
    stop,
    restart: async (opts) => {
      await stop(opts);
      await launch();
    },
    pause: () => {
      child?.kill('SIGSTOP');
    },
    resume: () => {
      child?.kill('SIGCONT');
    },
    command: (...args: string[]) => rawCommand(port, args),
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
