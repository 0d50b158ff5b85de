import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from '../test/support/postgresDatabase';
import { type RedisServerHandle, startRedisServer } from '../test/support/redisServer';
import { type ServerProcess, startServer } from '../test/support/serverProcess';
import { onCleanup } from './cleanup';
import { JOURNAL_TMPFS_BYTES, faketimeEnv, mountTmpfs, unmount } from './environment';
import type { ProcessRef } from './ledger';

/**
 * The processes of one run: a private Redis with an append-only file (so a SIGKILLed Redis comes
 * back with what it acknowledged) and the server processes, each with its own journal dir (a small
 * tmpfs when disk-full is on), instance id, API key and optionally a libfaketime clock. Slots
 * 0..N-1 are the fleet; a duplicate-instance fault adds a slot that shares an instance id.
 */
export interface Slot {
  readonly slot: number;
  readonly instanceId: string;
  readonly journalDir: string;
  readonly url: string;
  /** null when this slot's clock is real. */
  readonly clockFile: string | null;
  /** Slots of the fleet; a duplicate is in the pool only while it runs. */
  readonly duplicateOf: number | null;
  handle: ServerProcess;
  incarnation: number;
  up: boolean;
}

export interface ClusterOptions {
  readonly seed: number;
  readonly instances: number;
  readonly apiKey: string;
  readonly reservationTtlMs: number;
  readonly journalTmpfs: boolean;
  readonly fakeClock: boolean;
  /** How node starts a server (chaos/bundle.ts). */
  readonly nodeArgs: readonly string[];
}

export class Cluster {
  readonly slots: Slot[] = [];
  readonly processEnds: Array<{ process: ProcessRef; atMs: number }> = [];
  private readonly mounts: string[] = [];
  /** Every server pid this cluster spawned, including starts still in flight when the run ends. */
  private readonly spawned = new Set<number>();

  private constructor(
    readonly options: ClusterOptions,
    readonly dir: string,
    readonly redis: RedisServerHandle,
    private readonly nowMs: () => number,
    readonly databaseUrl: string,
  ) {}

  static async start(o: ClusterOptions, nowMs: () => number): Promise<Cluster> {
    const dir = mkdtempSync(join(tmpdir(), `pacer-chaos-${o.seed}-`));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    // appendfsync always: the pacer acknowledges spend once Redis applied it, so a Redis that may
    // forget its last second on SIGKILL (everysec) loses acknowledged spend by design, not by bug.
    const redis = await startRedisServer({ extraArgs: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    onCleanup(() => redis.dispose());
    // A fleet shares one system of record: a database of this run's own on the machine's
    // PostgreSQL (per-instance PGlite would split the registry and could not repair an empty Redis).
    const db = await createTestDatabase(`chaos${o.seed}`);
    onCleanup(() => db.drop());
    const cluster = new Cluster(o, dir, redis, nowMs, db.url);
    onCleanup(() => cluster.unmountAll());
    onCleanup(() => cluster.killAll());
    await Promise.all(
      Array.from({ length: o.instances }, (_, i) => cluster.addServer(`chaos-${o.seed}-i${i}`, null)),
    );
    return cluster;
  }

  private env(clockFile: string | null): Record<string, string> {
    return {
      API_KEY: this.options.apiKey,
      DATABASE_URL: this.databaseUrl,
      RESERVATION_TTL_MS: String(this.options.reservationTtlMs),
      LOG_LEVEL: 'warn',
      SHUTDOWN_GRACE_MS: '2000',
      ...(clockFile === null ? {} : faketimeEnv(clockFile)),
    };
  }

  /**
   * Starts a server in a new slot. `duplicateOf` names the slot whose instance id it reuses; such a
   * server's journal is a plain dir (never filled). Rejects when the process does not come up.
   */
  async addServer(instanceId: string, duplicateOf: number | null): Promise<Slot> {
    const slot = this.slots.length;
    const journalDir = join(this.dir, `journal-${slot}`);
    if (this.options.journalTmpfs && duplicateOf === null) {
      mountTmpfs(journalDir, JOURNAL_TMPFS_BYTES);
      this.mounts.push(journalDir);
    } else {
      mkdirSync(journalDir, { recursive: true });
    }
    let clockFile: string | null = null;
    if (this.options.fakeClock) {
      clockFile = join(this.dir, `clock-${slot}`);
      writeFileSync(clockFile, '+0\n');
    }
    // Reserve the slot number before the slow start, so parallel starts get distinct slots.
    const placeholder = { slot } as Slot;
    this.slots.push(placeholder);
    try {
      const handle = await startServer({
        redisUrl: this.redis.url,
        journalDir,
        instanceId,
        env: this.env(clockFile),
        nodeArgs: this.options.nodeArgs,
        // A shared 2-core machine under load takes tens of seconds to start a process.
        startTimeoutMs: 120_000,
        onSpawn: (pid) => this.spawned.add(pid),
      });
      const s: Slot = {
        slot,
        instanceId,
        journalDir,
        url: handle.url,
        clockFile,
        duplicateOf,
        handle,
        incarnation: 0,
        up: true,
      };
      this.slots[slot] = s;
      return s;
    } catch (err) {
      this.slots[slot] = {
        ...placeholder,
        instanceId,
        journalDir,
        url: '',
        clockFile,
        duplicateOf,
        handle: null as unknown as ServerProcess,
        incarnation: 0,
        up: false,
      };
      throw err;
    }
  }

  fleet(): Slot[] {
    return this.slots.filter((s) => s.duplicateOf === null);
  }

  /** Where the exchange sends requests: every fleet instance (up or not), plus running duplicates. */
  targets(): Slot[] {
    return this.slots.filter((s) => s.duplicateOf === null || s.up);
  }

  ref(s: Slot): ProcessRef {
    return { slot: s.slot, incarnation: s.incarnation };
  }

  async kill9(s: Slot): Promise<void> {
    s.up = false;
    await s.handle.kill9();
    this.processEnds.push({ process: this.ref(s), atMs: this.nowMs() });
  }

  async stop(s: Slot): Promise<void> {
    s.up = false;
    await s.handle.stop();
    this.processEnds.push({ process: this.ref(s), atMs: this.nowMs() });
  }

  async restart(s: Slot): Promise<void> {
    s.incarnation++;
    await s.handle.restart();
    s.up = true;
  }

  /** Steps a slot's wall clock to `offsetS` seconds from real time. */
  setClockOffset(s: Slot, offsetS: number): void {
    if (s.clockFile === null) throw new Error(`instance ${s.slot} does not run under libfaketime`);
    writeFileSync(s.clockFile, `${offsetS >= 0 ? '+' : ''}${offsetS}\n`);
  }

  /** SIGKILLs Redis and wipes its data dir: the next start is empty. */
  async wipeRedis(): Promise<void> {
    await this.redis.stop();
    for (const entry of readdirSync(this.redis.dir))
      rmSync(join(this.redis.dir, entry), { recursive: true, force: true });
  }

  serverLogs(): string {
    return this.slots
      .filter((s) => s.handle)
      .map((s) => `--- instance ${s.slot} (${s.instanceId}) ---\n${s.handle.output().slice(-4000)}`)
      .join('\n');
  }

  async killAll(): Promise<void> {
    await Promise.all(this.slots.filter((s) => s.handle).map((s) => s.handle.kill9()));
    for (const pid of this.spawned) {
      // Only a pid that still runs our server: an exited one may have been reused by now.
      let cmdline = '';
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!this.options.nodeArgs.every((a) => cmdline.includes(a))) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // exited meanwhile
      }
    }
    this.spawned.clear();
  }

  unmountAll(): void {
    for (const m of this.mounts.splice(0)) unmount(m);
  }
}
