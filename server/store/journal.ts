import { mkdirSync } from 'node:fs';
import { type FileHandle, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { SpendJournal, SpendRecord } from '../../core/index';
import { JournalIoError, JournalLockedError } from '../errors';

/**
 * A durable, append-only spend journal: one file per instance, one JSON line per record, each line
 * prefixed by the CRC-32 of its JSON. `append` resolves only after the lines are written and
 * fdatasync'd, so whatever it acknowledges survives kill -9 and power loss (as far as the disk
 * honours fsync). Concurrent appends share one write and one sync (group commit).
 *
 *   <crc32 hex 8> {"r":<SpendRecord>}     a record
 *   <crc32 hex 8> {"c":<count>}           the oldest <count> pending records were confirmed
 *
 * Crash tolerance: a crash mid-write leaves at most one torn last line; opening the journal drops
 * it (truncating the file back to the last whole line) and keeps every line before it. A torn
 * line was never acknowledged, so dropping it loses nothing the caller was told was safe.
 * A confirmation not yet written when the process dies means those records replay again, which
 * the store refuses as duplicates by event id: replay is at-least-once, counting is exactly-once,
 * as long as replay happens within the store's dedup window (3 days by default).
 *
 * Compaction: once every record is confirmed the file is truncated to empty; when confirmed
 * records dominate a large file, the pending tail is rewritten to a new file that atomically
 * replaces the old one (write, fsync, rename, fsync dir).
 */
export interface FileJournalOptions {
  readonly dir: string;
  readonly instanceId: string;
  /** Rewrite the file when it holds more than this many confirmed records (and they dominate it). */
  readonly compactAfterRecords?: number;
}

export interface JournalStats {
  readonly pendingRecords: number;
  readonly fileBytes: number;
  /** Lines dropped at open: a torn tail, or lines failing their checksum. */
  readonly droppedLines: number;
  readonly compactionFailures: number;
  /** fdatasync calls made for appends and confirmations: fewer than calls when group commit works. */
  readonly appendSyncs: number;
}

interface Waiter {
  readonly data: string;
  /** Updates the in-memory view once the data is on disk, before anyone is told. */
  onDurable(): void;
  resolve(): void;
  reject(err: unknown): void;
}

/** Journals open in this process: the pid lock cannot tell two of them apart. */
const openPaths = new Set<string>();

const INSTANCE_FILE_SAFE = /[^A-Za-z0-9._-]/g;

function line(body: string): string {
  return `${crc32(body).toString(16).padStart(8, '0')} ${body}\n`;
}

function parseLine(text: string): { r: SpendRecord } | { c: number } | null {
  if (text.length < 10 || text[8] !== ' ') return null;
  const body = text.slice(9);
  if (Number.parseInt(text.slice(0, 8), 16) !== crc32(body)) return null;
  try {
    const v = JSON.parse(body) as { r?: SpendRecord; c?: number };
    if (v.r && typeof v.r.eventId === 'string') return { r: v.r };
    if (typeof v.c === 'number' && Number.isSafeInteger(v.c) && v.c >= 0) return { c: v.c };
  } catch {
    // a checksum collision on garbage: treat like any bad line
  }
  return null;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class FileJournal implements SpendJournal {
  readonly path: string;
  private readonly lockPath: string;
  private readonly compactAfterRecords: number;
  private fh: FileHandle | null = null;
  private records: SpendRecord[] = [];
  /** Records in the file that are confirmed (they stay until compaction). */
  private confirmedInFile = 0;
  private bytes = 0;
  private dropped = 0;
  private compactionFailures = 0;
  /** A compaction renamed its file but the directory entry may not be on disk yet. */
  private dirSyncPending = false;
  private syncs = 0;
  private queue: Waiter[] = [];
  private writing: Promise<void> | null = null;
  private closed = false;

  private constructor(opts: FileJournalOptions) {
    const name = opts.instanceId.replace(INSTANCE_FILE_SAFE, '_');
    this.path = join(opts.dir, `spend-${name}.journal`);
    this.lockPath = join(opts.dir, `spend-${name}.lock`);
    this.compactAfterRecords = opts.compactAfterRecords ?? 10_000;
  }

  /** Opens (creating) the instance's journal, takes its lock and loads what was not yet confirmed. */
  static async open(opts: FileJournalOptions): Promise<FileJournal> {
    const j = new FileJournal(opts);
    try {
      mkdirSync(opts.dir, { recursive: true });
    } catch (err) {
      throw new JournalIoError(`cannot create journal dir ${opts.dir}`, { cause: err });
    }
    await j.lock();
    try {
      await j.load();
      j.fh = await open(j.path, 'a');
    } catch (err) {
      await j.unlock();
      if (err instanceof JournalIoError) throw err;
      throw new JournalIoError(`cannot open journal ${j.path}`, { cause: err });
    }
    return j;
  }

  /** One process per journal: a second one would confirm records the first still replays. */
  private async lock(): Promise<void> {
    if (openPaths.has(this.path)) throw new JournalLockedError(this.path, process.pid);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(this.lockPath, String(process.pid), { flag: 'wx' });
        openPaths.add(this.path);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
          throw new JournalIoError(`cannot create journal lock ${this.lockPath}`, { cause: err });
        }
      }
      const holder = Number((await readFile(this.lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && pidAlive(holder)) {
        throw new JournalLockedError(this.path, holder);
      }
      // Left behind by a process that died (kill -9): take it over.
      await rm(this.lockPath, { force: true });
    }
    throw new JournalLockedError(this.path, 0);
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const lastNewline = text.lastIndexOf('\n');
    const whole = lastNewline < 0 ? '' : text.slice(0, lastNewline + 1);
    if (whole.length !== text.length) {
      // A torn last line: never acknowledged, so drop it before appending after it.
      this.dropped++;
      const fh = await open(this.path, 'r+');
      try {
        await fh.truncate(Buffer.byteLength(whole));
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }
    const all: SpendRecord[] = [];
    let confirmed = 0;
    for (const l of whole.split('\n')) {
      if (l.length === 0) continue;
      const entry = parseLine(l);
      if (entry === null) {
        this.dropped++;
        continue;
      }
      if ('r' in entry) all.push(entry.r);
      else confirmed = Math.min(all.length, confirmed + entry.c);
    }
    this.records = all.slice(confirmed);
    this.confirmedInFile = confirmed;
    this.bytes = Buffer.byteLength(whole);
  }

  async append(records: readonly SpendRecord[]): Promise<void> {
    if (records.length === 0) return;
    let data = '';
    for (const r of records) data += line(JSON.stringify({ r }));
    await this.enqueue(data, () => {
      for (const r of records) this.records.push(r);
    });
  }

  async pending(): Promise<SpendRecord[]> {
    return [...this.records];
  }

  async confirm(count: number): Promise<void> {
    const n = Math.min(Math.max(0, Math.floor(count)), this.records.length);
    if (n === 0) return;
    await this.enqueue(line(JSON.stringify({ c: n })), () => {
      this.records = this.records.slice(n);
      this.confirmedInFile += n;
    });
  }

  stats(): JournalStats {
    return {
      pendingRecords: this.records.length,
      fileBytes: this.bytes,
      droppedLines: this.dropped,
      compactionFailures: this.compactionFailures,
      appendSyncs: this.syncs,
    };
  }

  private enqueue(data: string, onDurable: () => void): Promise<void> {
    if (this.closed || this.fh === null) {
      return Promise.reject(new JournalIoError(`journal ${this.path} is closed`));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ data, onDurable, resolve, reject });
      if (this.writing === null) this.writing = this.drain();
    });
  }

  /**
   * The only writer of the file. Group commit: every waiter queued while one sync runs goes out in
   * the next write + sync. Compaction runs here too, between groups, so it never races an append.
   */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      const buf = Buffer.from(group.map((w) => w.data).join(''), 'utf8');
      try {
        await this.writeAll(buf);
      } catch (err) {
        const e = new JournalIoError(`cannot append to journal ${this.path}`, { cause: err });
        for (const w of group) w.reject(e);
        continue;
      }
      for (const w of group) w.onDurable();
      await this.maybeCompact();
      for (const w of group) w.resolve();
    }
    this.writing = null;
  }

  private async writeAll(buf: Buffer): Promise<void> {
    // Until the rename of a compaction is durable, nothing written to the new file is either.
    if (this.dirSyncPending) {
      await this.syncDir();
      this.dirSyncPending = false;
    }
    const fh = this.fh!;
    const before = this.bytes;
    try {
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await fh.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
      await fh.datasync();
      this.syncs++;
      this.bytes = before + buf.length;
    } catch (err) {
      // Cut a partial write back off, so a later append does not glue onto half a line.
      await fh.truncate(before).catch(() => undefined);
      throw err;
    }
  }

  /** A failed compaction leaves a valid (longer) file behind: it is retried after the next write. */
  private async maybeCompact(): Promise<void> {
    try {
      if (this.records.length === 0) {
        if (this.bytes > 0) await this.rewrite([]);
      } else if (
        this.confirmedInFile > this.compactAfterRecords &&
        this.confirmedInFile > this.records.length
      ) {
        await this.rewrite(this.records);
      }
    } catch {
      this.compactionFailures++;
    }
  }

  private async rewrite(keep: readonly SpendRecord[]): Promise<void> {
    const fh = this.fh!;
    if (keep.length === 0) {
      await fh.truncate(0);
      await fh.datasync();
      this.bytes = 0;
      this.confirmedInFile = 0;
      return;
    }
    const tmp = `${this.path}.tmp`;
    const data = keep.map((r) => line(JSON.stringify({ r }))).join('');
    // A stale tmp from an earlier failed compaction must not be appended to.
    await rm(tmp, { force: true });
    const out = await open(tmp, 'a');
    try {
      await out.writeFile(data, 'utf8');
      await out.datasync();
      await rename(tmp, this.path);
    } catch (err) {
      await out.close().catch(() => undefined);
      throw err;
    }
    // From here the old handle names a file no longer on disk: switch before anything else can
    // fail, so no acknowledged append ever goes to it. `out` is the file now at `path`.
    this.fh = out;
    this.bytes = Buffer.byteLength(data);
    this.confirmedInFile = 0;
    this.dirSyncPending = true;
    await fh.close().catch(() => undefined);
    await this.syncDir();
    this.dirSyncPending = false;
  }

  private async syncDir(): Promise<void> {
    const dir = await open(join(this.path, '..'), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** Waits for writes in flight, closes the file and releases the lock. Pending records stay on disk. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.writing !== null) await this.writing;
    await this.fh?.close();
    this.fh = null;
    await this.unlock();
  }

  private async unlock(): Promise<void> {
    openPaths.delete(this.path);
    await rm(this.lockPath, { force: true });
  }
}
