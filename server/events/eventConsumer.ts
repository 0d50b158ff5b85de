import type { Clock, Timers } from '../runtime/time';
import { type AdEvent, type ImpressionsHook, impressionItems } from './adEvent';
import { STREAM_PARTITIONS } from './eventKeys';
import type { EventRecords } from './eventRecords';
import type { EventStream, StreamEntry, StreamStats } from './eventStream';

export interface ConsumerOptions {
  readonly stream: EventStream;
  readonly records: EventRecords;
  /** This instance's name in the consumer group: a restart under the same name finishes its own batch. */
  readonly consumer: string;
  readonly clock: Clock;
  readonly timers: Timers;
  /** Called after each commit with the impressions that were new in it. */
  readonly onImpressions: () => ImpressionsHook;
  readonly log: { warn(obj: object, msg: string): void };
  /** Entries per partition and read; one transaction takes a read of every partition. */
  readonly batchSize?: number;
  /** How often an idle consumer looks for new entries. */
  readonly pollMs?: number;
  /** Entries held this long by another consumer are taken over (it is presumed dead). */
  readonly claimIdleMs?: number;
  /** How often lag and pending are read for /health and the metrics. */
  readonly statsMs?: number;
}

export interface ConsumerHealth extends StreamStats {
  /** Events this consumer wrote to the history store (new ones, not re-deliveries). */
  readonly aggregated: number;
  readonly lastError: { readonly message: string; readonly atMs: number } | null;
}

/**
 * One member of the consumer group `aggregate`: reads each partition, writes the batch's counts
 * to the history store in one transaction, and only then acknowledges. A consumer killed between
 * the two leaves its entries pending: it finishes them itself when it restarts under the same name,
 * and any other consumer takes them over after `claimIdleMs` (XAUTOCLAIM). Either way they are
 * written again, and the store's dedup by event id keeps the counts exact.
 */
export class EventConsumer {
  private readonly batchSize: number;
  private readonly claimIdleMs: number;
  /** Per partition: this consumer may hold entries from before (a restart, a failed write). */
  private readonly ownFirst = new Array<boolean>(STREAM_PARTITIONS).fill(true);
  private groupsReady = false;
  private nextClaimAtMs = 0;
  private busy: Promise<void> | null = null;
  private closed = false;
  private readonly stops: (() => void)[] = [];
  private stats: StreamStats = { undelivered: 0, pending: 0 };
  private aggregated = 0;
  private lastError: ConsumerHealth['lastError'] = null;
  /** Passes failed in a row. */
  private failing = 0;

  constructor(private readonly o: ConsumerOptions) {
    this.batchSize = o.batchSize ?? 250;
    this.claimIdleMs = o.claimIdleMs ?? 30_000;
  }

  start(): void {
    this.stops.push(this.o.timers.every(this.o.pollMs ?? 100, () => this.kick()));
    this.stops.push(this.o.timers.every(this.o.statsMs ?? 1000, () => void this.refreshStats()));
    this.kick();
  }

  /** Stops reading and waits for the batch in flight to be written and acknowledged. */
  async close(): Promise<void> {
    this.closed = true;
    for (const stop of this.stops.splice(0)) stop();
    await this.busy;
  }

  health(): ConsumerHealth {
    return { ...this.stats, aggregated: this.aggregated, lastError: this.lastError };
  }

  private kick(): void {
    if (this.busy !== null || this.closed) return;
    this.busy = this.drain().finally(() => {
      this.busy = null;
    });
  }

  /** Reads until the log is empty; a failure waits for the next poll (entries stay pending). */
  private async drain(): Promise<void> {
    try {
      while (!this.closed && (await this.pollOnce()) > 0) {
        // keep going while there is work
      }
      if (this.failing > 0) {
        this.o.log.warn({ failedPasses: this.failing }, 'event consumer: working again');
        this.failing = 0;
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * Logs the first failure of a run and the recovery, not every poll: with Redis or PostgreSQL
   * down a consumer fails ten times a second. The last error stays in /health meanwhile.
   */
  private fail(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    this.lastError = { message, atMs: this.o.clock.nowMs() };
    if (this.failing++ === 0) {
      this.o.log.warn(
        { err },
        'event consumer: a pass failed; unacknowledged entries stay pending and are retried',
      );
    }
  }

  /**
   * One pass: takes over abandoned entries (every claimIdleMs / 2), then reads every partition at
   * once and writes what came back in one transaction. Returns the entries handled.
   */
  async pollOnce(): Promise<number> {
    try {
      return await this.pass();
    } catch (err) {
      // The stream was lost (Redis restarted empty): create the group again on the next pass.
      if (err instanceof Error && err.message.includes('NOGROUP')) this.groupsReady = false;
      // Partitions read before the failure hold entries delivered to us and not handled: the next
      // pass reads our own pending entries first everywhere, rather than waiting for XAUTOCLAIM.
      this.ownFirst.fill(true);
      throw err;
    }
  }

  private async pass(): Promise<number> {
    if (!this.groupsReady) {
      await this.o.stream.ensureGroups();
      this.groupsReady = true;
    }
    let handled = 0;
    const nowMs = this.o.clock.nowMs();
    if (nowMs >= this.nextClaimAtMs) {
      this.nextClaimAtMs = nowMs + Math.max(1, Math.floor(this.claimIdleMs / 2));
      for (let p = 0; p < STREAM_PARTITIONS; p++) handled += await this.claimPartition(p);
    }
    const reads = await Promise.all(
      Array.from({ length: STREAM_PARTITIONS }, async (_, p) => ({
        p,
        entries: await this.readPartition(p),
      })),
    );
    return handled + (await this.handle(reads));
  }

  /** Takes over every entry of the partition that a dead consumer holds, a batch at a time. */
  private async claimPartition(p: number): Promise<number> {
    let handled = 0;
    let cursor = '0-0';
    do {
      const { next, entries } = await this.o.stream.claim(
        p,
        this.o.consumer,
        this.claimIdleMs,
        this.batchSize,
        cursor,
      );
      handled += await this.handle([{ p, entries }]);
      cursor = next;
    } while (cursor !== '0-0' && !this.closed);
    return handled;
  }

  /** This consumer's own unacknowledged entries first (after a restart or a failed write), then new ones. */
  private async readPartition(p: number): Promise<StreamEntry[]> {
    if (this.ownFirst[p]) {
      const own = await this.o.stream.read(p, this.o.consumer, this.batchSize, true);
      if (own.length > 0) return own;
      this.ownFirst[p] = false;
    }
    return this.o.stream.read(p, this.o.consumer, this.batchSize, false);
  }

  /**
   * Writes, then acknowledges; a failed write (or ack) leaves the entries pending for this
   * consumer, which reads its own pending entries again before new ones.
   */
  private async handle(batches: readonly { p: number; entries: readonly StreamEntry[] }[]): Promise<number> {
    const events: AdEvent[] = [];
    let count = 0;
    for (const b of batches) {
      count += b.entries.length;
      for (const e of b.entries) if (e.event !== null) events.push(e.event);
    }
    if (count === 0) return 0;
    let fresh: boolean[];
    try {
      fresh = await this.o.records.record(events, this.o.clock.nowMs());
      // Every impression of the batch, not only the fresh ones: a batch re-delivered after the
      // hook failed is all duplicates here, and the caps count exposures idempotently.
      const items = impressionItems(events);
      if (items.length > 0) await this.o.onImpressions()(items);
      await Promise.all(
        batches.map((b) =>
          this.o.stream.ack(
            b.p,
            b.entries.map((e) => e.id),
          ),
        ),
      );
    } catch (err) {
      for (const b of batches) if (b.entries.length > 0) this.ownFirst[b.p] = true;
      throw err;
    }
    this.aggregated += fresh.filter(Boolean).length;
    return count;
  }

  private async refreshStats(): Promise<void> {
    try {
      if (this.groupsReady) this.stats = await this.o.stream.stats();
    } catch (err) {
      this.lastError = {
        message: err instanceof Error ? err.message : String(err),
        atMs: this.o.clock.nowMs(),
      };
    }
  }

  /** Reads lag and pending now (tests, and the first /health after start). */
  async refresh(): Promise<ConsumerHealth> {
    await this.refreshStats();
    return this.health();
  }
}
