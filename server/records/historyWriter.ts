import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { open, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { SpendRecord } from '../../core/store';
import type { Clock, Timers } from '../runtime/time';
import { GenerationClosedError, type GenerationSpend, type HistoryRecords } from './historyRecords';
import { HistoryWal } from './historyWal';

export interface HistoryWriterOptions {
  readonly history: HistoryRecords;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly instanceId: string;
  /** Where records go when the queue outgrows memory (the journal dir). */
  readonly spillDir: string;
  readonly intervalMs?: number;
  readonly batchRecords?: number;
  /** Records held in memory before the oldest are spilled to a file. */
  readonly maxQueuedRecords?: number;
  readonly maxBackoffMs?: number;
  /** Event ids older than this many days are pruned (the dedup window is 3 days). */
  readonly keepEventDays?: number;
  readonly pruneEveryMs?: number;
  readonly log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
}

export interface HistoryWriterStats {
  /** Records waiting for PostgreSQL, in memory and spilled. */
  readonly queuedRecords: number;
  readonly spilledRecords: number;
  readonly writtenRecords: number;
  readonly failures: number;
  /** True from the first failed write until a write succeeds. */
  readonly failing: boolean;
  readonly lastError: { readonly message: string; readonly atMs: number } | null;
  readonly lastSuccessAtMs: number | null;
}

const SPILL_PREFIX = 'history-spill-';

/**
 * Writes counted spend to PostgreSQL in the background, in batches: nothing on the decision or
 * spend path waits for it. While PostgreSQL fails, records wait in a bounded memory queue (the
 * oldest spilled to fsynced files in the journal dir past `maxQueuedRecords`) and the write is
 * retried with exponential backoff; nothing is dropped, and a retried batch cannot double count
 * (events are stored once by id).
 */
export class HistoryWriter {
  private queue: GenerationSpend[] = [];
  private spilled: string[] = [];
  private spilledRecords = 0;
  private spillSeq = 0;
  private written = 0;
  private failures = 0;
  private consecutiveFailures = 0;
  private nextAttemptAtMs = 0;
  private lastError: { message: string; atMs: number } | null = null;
  private lastSuccessAtMs: number | null = null;
  private nextPruneAtMs = 0;
  private inFlight: Promise<void> | null = null;
  private inFlightRecords = 0;
  /** Spill files being written: their records are in neither the queue nor `spilled` yet. */
  private spilling = new Set<Promise<boolean>>();
  private spillingRecords = 0;
  private paused = 0;
  private stopTimer: (() => void) | null = null;
  private readonly o: Required<Omit<HistoryWriterOptions, 'log'>> & Pick<HistoryWriterOptions, 'log'>;
  /** Records added durably, by the write-ahead segment holding them until they are stored. */
  private readonly wal: HistoryWal;
  private readonly walSegment = new WeakMap<GenerationSpend, number>();
  private walFailures = 0;
  private closedHandler: ((generations: readonly string[]) => void) | null = null;
  private closing = false;

  constructor(opts: HistoryWriterOptions) {
    this.o = {
      intervalMs: 1_000,
      batchRecords: 5_000,
      maxQueuedRecords: 200_000,
      maxBackoffMs: 10_000,
      keepEventDays: 4,
      pruneEveryMs: 3_600_000,
      ...opts,
    };
    mkdirSync(this.o.spillDir, { recursive: true });
    const mine = `${SPILL_PREFIX}${this.o.instanceId.replace(/[^A-Za-z0-9._-]/g, '_')}-`;
    // Spill files a previous run of this instance left behind go out first.
    this.spilled = readdirSync(this.o.spillDir)
      .filter((f) => f.startsWith(mine))
      .sort()
      .map((f) => join(this.o.spillDir, f));
    for (const path of this.spilled) {
      this.spilledRecords += readFileSync(path, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0).length;
    }
    // Names sort in spill order across runs.
    this.spillSeq = this.o.clock.nowMs() * 1000;
    this.wal = new HistoryWal(() => this.nextSpillPath());
  }

  private nextSpillPath(): string {
    const name = this.o.instanceId.replace(/[^A-Za-z0-9._-]/g, '_');
    return join(this.o.spillDir, `${SPILL_PREFIX}${name}-${String(this.spillSeq++).padStart(16, '0')}`);
  }

  /**
   * Called when PostgreSQL refuses a batch for a generation a repair closed: a record labelled
   * with the old generation reached the queue after the adoption took the stale ones out (a spend
   * call in flight across the repair). Until it is adopted again it blocks every write.
   */
  onGenerationClosed(handler: (generations: readonly string[]) => void): void {
    this.closedHandler = handler;
  }

  start(): void {
    this.stopTimer ??= this.o.timers.every(this.o.intervalMs, () => {
      void this.writeNow();
    });
  }

  add(record: SpendRecord, generation: string): void {
    this.queue.push({ record, generation });
    if (this.queue.length > this.o.maxQueuedRecords) void this.spillOldest();
  }

  /**
   * Adds records the store has just counted, fsynced to the write-ahead log first: resolve
   * before the notices are acknowledged, and a kill -9 of this process loses none of them even
   * if the store then loses its data too. A log that cannot be written (full disk) leaves them
   * in memory only, as `add` does, and counts the failure.
   */
  async addDurably(items: readonly GenerationSpend[]): Promise<void> {
    if (items.length === 0) return;
    await this.logDurably(items);
    for (const item of items) this.queue.push(item);
    if (this.queue.length > this.o.maxQueuedRecords) void this.spillOldest();
  }

  /**
   * Writes items without a log segment to the write-ahead log. False when it cannot (full disk):
   * they are then in memory only, and the failure is counted and logged once.
   */
  private async logDurably(items: readonly GenerationSpend[]): Promise<boolean> {
    const unlogged = items.filter((item) => !this.walSegment.has(item));
    if (unlogged.length === 0) return true;
    try {
      const segment = await this.wal.append(unlogged);
      for (const item of unlogged) this.walSegment.set(item, segment);
      return true;
    } catch (err) {
      if (this.walFailures++ === 0)
        this.o.log.warn({ err }, 'could not write the history log; counted spend waits in memory');
      return false;
    }
  }

  /** These records are stored in PostgreSQL or a spill file: their log segments may go. */
  private releaseWal(items: readonly GenerationSpend[]): void {
    const counts = new Map<number, number>();
    for (const item of items) {
      const segment = this.walSegment.get(item);
      if (segment === undefined) continue;
      this.walSegment.delete(item);
      counts.set(segment, (counts.get(segment) ?? 0) + 1);
    }
    for (const [segment, n] of counts) this.wal.release(segment, n);
  }

  /** Resolves once every spill file started so far is written (or failed and requeued). */
  async spillsSettled(): Promise<void> {
    while (this.spilling.size > 0) await Promise.all(this.spilling);
  }

  stats(): HistoryWriterStats {
    return {
      queuedRecords: this.queue.length + this.inFlightRecords + this.spillingRecords + this.spilledRecords,
      spilledRecords: this.spilledRecords,
      writtenRecords: this.written,
      failures: this.failures,
      failing: this.consecutiveFailures > 0,
      lastError: this.lastError,
      lastSuccessAtMs: this.lastSuccessAtMs,
    };
  }

  /** One write attempt now (the timer does this on its own); resolves when it is done. */
  async writeNow(): Promise<void> {
    if (this.inFlight !== null) return this.inFlight;
    if (this.paused > 0 || this.o.clock.nowMs() < this.nextAttemptAtMs) return;
    this.inFlight = this.writeBatches().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async writeBatches(): Promise<void> {
    try {
      // Spill files first (oldest records), then what is queued now, not what arrives
      // meanwhile: under steady load the round must end.
      for (let files = this.spilled.length; files > 0 && this.paused === 0; files--) {
        await this.unspillOne();
        this.noteSuccess();
      }
      let budget = this.queue.length;
      while (this.paused === 0) {
        if (this.queue.length === 0 || budget <= 0) break;
        // Out of the queue while in flight, so a spill meanwhile cannot take it; back on failure.
        const batch = this.queue.splice(0, Math.min(this.o.batchRecords, budget));
        this.inFlightRecords = batch.length;
        try {
          await this.o.history.recordSpend(batch, this.o.clock.nowMs());
        } catch (err) {
          this.queue = batch.concat(this.queue);
          throw err;
        } finally {
          this.inFlightRecords = 0;
        }
        this.written += batch.length;
        this.releaseWal(batch);
        budget -= batch.length;
        this.noteSuccess();
      }
      this.noteSuccess();
      await this.maybePrune();
    } catch (err) {
      this.failures++;
      this.consecutiveFailures++;
      const message = err instanceof Error ? err.message : String(err);
      this.lastError = { message, atMs: this.o.clock.nowMs() };
      const backoffMs = Math.min(this.o.maxBackoffMs, 250 * 2 ** Math.min(this.consecutiveFailures - 1, 10));
      this.nextAttemptAtMs = this.o.clock.nowMs() + backoffMs;
      // Not once closing: an adoption racing close() could take records out of the files close()
      // relies on; the next start adopts what is left (RecordedStore.init).
      if (err instanceof GenerationClosedError) {
        if (!this.closing) this.closedHandler?.(err.generations);
      } else if (this.consecutiveFailures === 1) {
        this.o.log.warn(
          { err: message, queued: this.stats().queuedRecords },
          'PostgreSQL write failed: history is queued and retried with backoff',
        );
      }
    }
  }

  /**
   * Event ids only serve deduplication, for as long as a notice may be retried; hour rows keep
   * the history. Every instance prunes now and then; running it twice deletes nothing twice.
   */
  private async maybePrune(): Promise<void> {
    const nowMs = this.o.clock.nowMs();
    if (nowMs < this.nextPruneAtMs) return;
    this.nextPruneAtMs = nowMs + this.o.pruneEveryMs;
    const before = new Date(nowMs - this.o.keepEventDays * 86_400_000).toISOString().slice(0, 10);
    await this.o.history.pruneEvents(before);
  }

  private noteSuccess(): void {
    if (this.consecutiveFailures > 0) {
      this.o.log.info(
        { failures: this.consecutiveFailures },
        'PostgreSQL reachable again: writing queued history',
      );
    }
    this.consecutiveFailures = 0;
    this.lastSuccessAtMs = this.o.clock.nowMs();
  }

  /** Moves the oldest half of the queue to an fsynced file, so memory stays bounded. */
  private async spillOldest(): Promise<void> {
    if (this.paused > 0) return;
    await this.spill(Math.floor(this.queue.length / 2));
  }

  /** Moves the oldest `n` queued records to a new fsynced spill file; on failure they stay queued. */
  private spill(n: number): Promise<boolean> {
    if (n <= 0) return Promise.resolve(true);
    const chunk = this.queue.splice(0, n);
    this.spillingRecords += chunk.length;
    const done = this.writeSpill(chunk).finally(() => {
      this.spillingRecords -= chunk.length;
      this.spilling.delete(done);
    });
    this.spilling.add(done);
    return done;
  }

  private async writeSpill(chunk: GenerationSpend[]): Promise<boolean> {
    const path = this.nextSpillPath();
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(
          chunk.map((x) => JSON.stringify({ record: x.record, generation: x.generation })).join('\n'),
          'utf8',
        );
        await fh.datasync();
      } finally {
        await fh.close();
      }
      this.spilled.push(path);
      this.spilledRecords += chunk.length;
      this.releaseWal(chunk);
      return true;
    } catch (err) {
      // No room on disk either: keep them in memory rather than lose them.
      this.queue = chunk.concat(this.queue);
      this.o.log.warn({ err }, 'could not spill queued history to disk; keeping it in memory');
      return false;
    }
  }

  private async readSpill(path: string): Promise<GenerationSpend[]> {
    const lines = (await readFile(path, 'utf8')).split('\n').filter((l) => l.length > 0);
    const out: GenerationSpend[] = [];
    for (let i = 0; i < lines.length; i++) {
      try {
        out.push(JSON.parse(lines[i]!) as GenerationSpend);
      } catch (err) {
        // A log segment's last line torn by a kill -9 mid-append was never fsynced, so never
        // acknowledged; anything else is corruption and must not be skipped silently.
        if (i < lines.length - 1) throw err;
      }
    }
    return out;
  }

  private async unspillOne(): Promise<void> {
    const path = this.spilled[0]!;
    const items = await this.readSpill(path);
    for (let i = 0; i < items.length; i += this.o.batchRecords) {
      await this.o.history.recordSpend(items.slice(i, i + this.o.batchRecords), this.o.clock.nowMs());
    }
    await rm(path, { force: true });
    this.spilled.shift();
    this.spilledRecords = Math.max(0, this.spilledRecords - items.length);
    this.written += items.length;
  }

  /**
   * For a repair, or a start after one: stops writing, waits for a write in flight, and takes out
   * every record counted under another generation than `current` (memory and spill files). The
   * caller seeds them into the new Redis and gives them back with `readd`; `resume` lets writing
   * go on. Records it takes out of a file are logged again first, so a kill -9 meanwhile loses
   * none of them; files holding only `current` records stay as they are.
   */
  async takeStale(current: string): Promise<GenerationSpend[]> {
    this.paused++;
    const stale: GenerationSpend[] = [];
    const kept: string[] = [];
    let i = 0;
    try {
      while (this.inFlight !== null) await this.inFlight.catch(() => undefined);
      await this.spillsSettled();
      for (; i < this.spilled.length; i++) {
        const path = this.spilled[i]!;
        const items = await this.readSpill(path);
        if (items.every((item) => item.generation === current)) {
          kept.push(path);
          continue;
        }
        // A file is removed only once its records are in the log again (a full disk keeps it).
        if (!(await this.logDurably(items))) {
          throw new Error(`cannot log the records of ${path} again before taking them out of it`);
        }
        for (const item of items) (item.generation === current ? this.queue : stale).push(item);
        await rm(path, { force: true });
        this.spilledRecords = Math.max(0, this.spilledRecords - items.length);
      }
    } catch (err) {
      // Nothing is lost: what was taken out is logged and goes back to the queue, the files not
      // reached stay, and writing goes on; the caller retries the adoption later.
      this.spilled = kept.concat(this.spilled.slice(i));
      this.queue = stale.concat(this.queue);
      this.paused = Math.max(0, this.paused - 1);
      throw err;
    }
    this.spilled = kept;
    const keep: GenerationSpend[] = [];
    for (const item of this.queue) (item.generation === current ? keep : stale).push(item);
    this.queue = keep;
    return stale;
  }

  /**
   * Gives records back to the queue: those `takeStale` took out, re-labelled with the generation
   * that now counts them (logged anew, and the old entries released), or as they were when seeding
   * them failed.
   */
  async readd(items: readonly GenerationSpend[], replacing: readonly GenerationSpend[] = []): Promise<void> {
    await this.logDurably(items);
    this.releaseWal(replacing);
    this.queue = items.concat(this.queue);
  }

  resume(): void {
    this.paused = Math.max(0, this.paused - 1);
    this.nextAttemptAtMs = 0;
  }

  /** Stops the timer and tries to write what is queued; what cannot be written is spilled to disk. */
  async close(): Promise<void> {
    this.closing = true;
    this.stopTimer?.();
    this.stopTimer = null;
    this.nextAttemptAtMs = 0;
    await this.spillsSettled();
    await this.writeNow();
    const left = this.queue.length;
    // The next start of this instance writes the spill file first.
    if (left > 0 && (await this.spill(left))) {
      this.o.log.warn(
        { records: left },
        'PostgreSQL unreachable at shutdown: history spilled to the journal dir',
      );
    }
    // Everything is stored or spilled: the write-ahead segments hold nothing needed. Not while an
    // adoption holds records taken out of the queue and files (paused): the log is their only copy.
    if (this.queue.length === 0 && this.inFlight === null && this.paused === 0) await this.wal.removeAll();
  }
}
