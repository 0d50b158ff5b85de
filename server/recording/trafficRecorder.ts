import {
  type CampaignRow,
  type DecisionRow,
  type FileHeaderRow,
  TRAFFIC_RECORD_VERSION,
  type WinRow,
  trafficHourKey,
} from '../../core/trafficRecord';
import type { Clock, Timers } from '../runtime/time';
import { HourFiles } from './hourFiles';
import { keepRow, sampleWeight } from './sampling';

export interface TrafficRecorderOptions {
  readonly dir: string;
  /** RECORD_SAMPLE: share of requests recorded, 0..1. */
  readonly sample: number;
  readonly instanceId: string;
  readonly clock: Clock;
  readonly timers: Timers;
  /** How often buffered rows go to disk (default 1000 ms). */
  readonly flushIntervalMs?: number;
  /** Rows held in memory at most; past it rows are dropped and counted (default 100,000). */
  readonly maxBufferedRows?: number;
}

/** What /health and the metrics say about the recording. */
export interface RecordingStats {
  readonly dir: string;
  readonly sample: number;
  readonly rowsWritten: number;
  /** Rows dropped because the buffer was full (the disk is slower than the traffic). */
  readonly rowsDropped: number;
  /** Rows lost because a write failed (full disk, permissions): the last error says why. */
  readonly rowsLost: number;
  readonly rowsBuffered: number;
  readonly filesCompleted: number;
  readonly lastError: { readonly message: string; readonly atMs: number } | null;
}

/** The decision fields a recording keeps (core's Decision has them under these names). */
export interface RecordedDecision {
  readonly allow: boolean;
  readonly maxBidCpmMicros: number;
  readonly reason: string;
}

type BufferedRow = DecisionRow | WinRow;

/**
 * Records the traffic the server sees, off the decision path: `recordDecision` and `recordWin`
 * only push a row into a bounded in-memory buffer (or count it dropped when the buffer is full)
 * and never wait; a timer hands the buffer to the hourly files in batches. A slow or failing disk
 * costs recorded rows, counted, never a decision's latency.
 */
export class TrafficRecorder {
  private buffer: BufferedRow[] = [];
  private readonly files: HourFiles;
  private readonly maxRows: number;
  private readonly weight: number;
  private flushing: Promise<void> | null = null;
  private stopTimer: (() => void) | null = null;
  private campaignsInFile = new Set<string>();
  private timeZoneOf: (campaignId: string) => string | null = () => null;
  private unkeyed = 0;
  private written = 0;
  private dropped = 0;
  private lost = 0;
  private lastError: RecordingStats['lastError'] = null;

  constructor(private readonly opts: TrafficRecorderOptions) {
    this.files = new HourFiles(opts.dir, opts.instanceId);
    this.maxRows = opts.maxBufferedRows ?? 100_000;
    this.weight = sampleWeight(opts.sample);
  }

  /** Where campaign rows get their time zone (the runtime's registry), read at flush time. */
  useCampaigns(timeZoneOf: (campaignId: string) => string | null): void {
    this.timeZoneOf = timeZoneOf;
  }

  recordDecision(
    campaignId: string,
    requestId: string | undefined,
    bidMicros: number,
    value: number,
    d: RecordedDecision,
  ): void {
    const timeMs = this.opts.clock.nowMs();
    // Without a request id the row is sampled on its own: a key no other row shares.
    const key = requestId ?? `${campaignId}\u0000${timeMs}\u0000${this.unkeyed++}`;
    if (!keepRow(key, this.opts.sample)) return;
    this.push({
      type: 'decision',
      timeMs,
      campaignId,
      requestId: requestId ?? null,
      bidMicros,
      value,
      allow: d.allow,
      maxBidMicros: d.maxBidCpmMicros,
      reason: d.reason,
      weight: this.weight,
    });
  }

  recordWin(campaignId: string, eventId: string, requestId: string | undefined, spendMicros: number): void {
    if (!keepRow(requestId ?? eventId, this.opts.sample)) return;
    this.push({
      type: 'win',
      timeMs: this.opts.clock.nowMs(),
      campaignId,
      eventId,
      requestId: requestId ?? null,
      spendMicros,
      weight: this.weight,
    });
  }

  private push(row: BufferedRow): void {
    if (this.buffer.length >= this.maxRows) {
      this.dropped++;
      return;
    }
    this.buffer.push(row);
  }

  start(): void {
    if (this.stopTimer !== null) return;
    this.stopTimer = this.opts.timers.every(this.opts.flushIntervalMs ?? 1000, () => {
      void this.flush();
    });
  }

  /**
   * Writes what is buffered. One write at a time: a call while one runs waits for it and then
   * writes what came in meanwhile.
   */
  async flush(): Promise<void> {
    while (this.flushing !== null) await this.flushing;
    this.flushing = this.writeBuffered().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  /** Stops the timer, writes every buffered row and completes the open file. */
  async close(): Promise<void> {
    this.stopTimer?.();
    this.stopTimer = null;
    await this.flush();
    await this.guard(0, () => this.files.complete());
  }

  stats(): RecordingStats {
    return {
      dir: this.opts.dir,
      sample: this.opts.sample,
      rowsWritten: this.written,
      rowsDropped: this.dropped,
      rowsLost: this.lost,
      rowsBuffered: this.buffer.length,
      filesCompleted: this.files.completed,
      lastError: this.lastError,
    };
  }

  private async writeBuffered(): Promise<void> {
    const rows = this.buffer;
    this.buffer = [];
    let i = 0;
    while (i < rows.length) {
      const hourKey = trafficHourKey(rows[i]!.timeMs);
      let j = i;
      while (j < rows.length && trafficHourKey(rows[j]!.timeMs) === hourKey) j++;
      const ok = await this.guard(j - i, () =>
        this.files.append(hourKey, this.linesOf(rows, i, j, hourKey), () => this.header()),
      );
      if (ok) this.written += j - i;
      i = j;
    }
    // A quiet hour's file is completed when the clock leaves it, not when the next row comes.
    if (this.files.isBefore(trafficHourKey(this.opts.clock.nowMs())))
      await this.guard(0, () => this.files.complete());
  }

  /** The text of rows [i, j), each campaign announced (with its time zone) before its first row in a file. */
  private linesOf(rows: readonly BufferedRow[], i: number, j: number, hourKey: string): string {
    if (this.files.hourKey !== hourKey) this.campaignsInFile = new Set();
    let text = '';
    for (let k = i; k < j; k++) {
      const row = rows[k]!;
      if (!this.campaignsInFile.has(row.campaignId)) {
        const timeZone = this.timeZoneOf(row.campaignId);
        if (timeZone !== null) {
          this.campaignsInFile.add(row.campaignId);
          const c: CampaignRow = { type: 'campaign', campaignId: row.campaignId, timeZone };
          text += `${JSON.stringify(c)}\n`;
        }
      }
      text += `${JSON.stringify(row)}\n`;
    }
    return text;
  }

  private header(): string {
    const h: FileHeaderRow = {
      type: 'header',
      version: TRAFFIC_RECORD_VERSION,
      instanceId: this.opts.instanceId,
      sample: this.opts.sample,
    };
    return `${JSON.stringify(h)}\n`;
  }

  /** Runs a write; a failure loses `rows` (counted, with its cause kept) and never escapes. */
  private async guard(rows: number, write: () => Promise<void>): Promise<boolean> {
    try {
      await write();
      return true;
    } catch (err) {
      this.lost += rows;
      this.lastError = { message: (err as Error).message, atMs: this.opts.clock.nowMs() };
      return false;
    }
  }
}
