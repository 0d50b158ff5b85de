import { type FileHandle, open, rm } from 'node:fs/promises';
import type { GenerationSpend } from './historyRecords';

/** A segment is closed and a new one started past this many records. */
const SEGMENT_RECORDS = 10_000;

interface Waiter {
  readonly lines: string;
  readonly count: number;
  resolve(segment: number): void;
  reject(err: unknown): void;
}

/**
 * Write-ahead log of counted spend not yet in PostgreSQL (Redis mode). The store counted it; until
 * the history writer has stored it, Redis is its only copy, and a Redis that loses its dataset
 * while this process is killed (the writer's memory queue with it) would lose it for good (found
 * by npm run chaos, seed 606: kill -9, then Redis restarted empty before the restart reconciled).
 * Each batch is appended and fsynced before the notice is acknowledged; concurrent appends share
 * one fsync. Segments are JSON lines of GenerationSpend in the writer's spill-file format and
 * name, so a restarted writer loads a dead process's segments as spill files; a segment is
 * deleted once every record in it is stored (or spilled).
 */
export class HistoryWal {
  private fh: FileHandle | null = null;
  private segment = -1;
  private nextSegment = 0;
  private segmentRecords = 0;
  private readonly outstanding = new Map<number, number>();
  private readonly paths = new Map<number, string>();
  private waiting: Waiter[] = [];
  private writing: Promise<void> | null = null;

  /** `nextPath` names a new segment so that it sorts after every earlier spill file. */
  constructor(private readonly nextPath: () => string) {}

  /** Appends and fsyncs; resolves with the segment holding the records. */
  append(items: readonly GenerationSpend[]): Promise<number> {
    const lines = items.map((x) => `${JSON.stringify({ record: x.record, generation: x.generation })}\n`);
    return new Promise((resolve, reject) => {
      this.waiting.push({ lines: lines.join(''), count: items.length, resolve, reject });
      this.kick();
    });
  }

  /** `n` records of `segment` are stored elsewhere now; an emptied segment is deleted. */
  release(segment: number, n: number): void {
    const left = (this.outstanding.get(segment) ?? 0) - n;
    if (left > 0) {
      this.outstanding.set(segment, left);
      return;
    }
    this.outstanding.delete(segment);
    if (segment === this.segment) {
      // The file is still open for appends: the next append starts a new segment and deletes it.
      this.segmentRecords = SEGMENT_RECORDS;
      return;
    }
    const path = this.paths.get(segment);
    this.paths.delete(segment);
    if (path !== undefined) void rm(path, { force: true });
  }

  /** Every record is stored or spilled (a clean close): no segment is needed any more. */
  async removeAll(): Promise<void> {
    while (this.writing !== null) await this.writing;
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    this.segment = -1;
    this.segmentRecords = 0;
    for (const path of this.paths.values()) await rm(path, { force: true });
    this.paths.clear();
    this.outstanding.clear();
  }

  private kick(): void {
    if (this.writing !== null) return;
    this.writing = this.drain().finally(() => {
      this.writing = null;
      if (this.waiting.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    const batch = this.waiting;
    this.waiting = [];
    try {
      if (this.fh === null || this.segmentRecords >= SEGMENT_RECORDS) await this.rotate();
      const fh = this.fh!;
      const segment = this.segment;
      await fh.write(batch.map((w) => w.lines).join(''));
      await fh.datasync();
      let n = 0;
      for (const w of batch) n += w.count;
      this.segmentRecords += n;
      this.outstanding.set(segment, (this.outstanding.get(segment) ?? 0) + n);
      for (const w of batch) w.resolve(segment);
    } catch (err) {
      // A torn write stays at the end of this segment (a restart skips a torn last line); the
      // next append starts a new one.
      await this.fh?.close().catch(() => undefined);
      this.fh = null;
      for (const w of batch) w.reject(err);
    }
  }

  /** Closes the current segment (deleting it if nothing in it is outstanding) and opens a new one. */
  private async rotate(): Promise<void> {
    const previous = this.segment;
    await this.fh?.close().catch(() => undefined);
    this.fh = null;
    if (previous >= 0 && !this.outstanding.has(previous)) {
      const path = this.paths.get(previous);
      this.paths.delete(previous);
      if (path !== undefined) await rm(path, { force: true });
    }
    const path = this.nextPath();
    this.fh = await open(path, 'wx');
    this.segment = this.nextSegment++;
    this.paths.set(this.segment, path);
    this.segmentRecords = 0;
  }
}
