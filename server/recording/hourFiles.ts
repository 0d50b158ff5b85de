import { existsSync } from 'node:fs';
import { appendFile, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { TRAFFIC_FILE_SUFFIX, TRAFFIC_TEMP_SUFFIX } from '../../core/trafficRecord';

const gzipAsync = promisify(gzip);

/** The file of one UTC hour while it is written; `finalPath` exists only once it is complete. */
interface OpenFile {
  readonly hourKey: string;
  readonly tempPath: string;
  readonly finalPath: string;
}

/**
 * Hourly gzip files of one instance. Each batch is compressed on libuv's thread pool (never on the
 * event loop that decides) and appended as one gzip member: concatenated members are one valid
 * gzip stream (`zcat` and zlib's gunzip read them whole). A file is written under a `.tmp` name and
 * renamed when its hour is over or the recorder closes, so a reader that lists only
 * `*.ndjson.gz` never sees a file half written; a crash leaves a `.tmp` the next run does not touch.
 */
export class HourFiles {
  private open: OpenFile | null = null;
  completed = 0;

  constructor(
    private readonly dir: string,
    private readonly instanceId: string,
  ) {}

  /** The hour currently open, or null. */
  get hourKey(): string | null {
    return this.open?.hourKey ?? null;
  }

  /** Appends `text` to the file of `hourKey`, completing the open file first if it is an earlier hour. */
  async append(hourKey: string, text: string, header: () => string): Promise<void> {
    if (this.open !== null && this.open.hourKey !== hourKey) await this.complete();
    let body = text;
    if (this.open === null) {
      await mkdir(this.dir, { recursive: true });
      this.open = this.freshFile(hourKey);
      body = header() + text;
    }
    await appendFile(this.open.tempPath, await gzipAsync(body));
  }

  /** True when a file is open whose hour is before `hourKey` (a quiet hour still to close). */
  isBefore(hourKey: string): boolean {
    return this.open !== null && this.open.hourKey < hourKey;
  }

  /** Renames the open file to its final name: from now on readers take it. */
  async complete(): Promise<void> {
    const f = this.open;
    if (f === null) return;
    this.open = null;
    await rename(f.tempPath, f.finalPath);
    this.completed++;
  }

  /**
   * A name no earlier file of this instance took: a restart inside the same hour writes a second
   * file for it rather than overwrite the first.
   */
  private freshFile(hourKey: string): OpenFile {
    const base = `traffic-${this.instanceId}-${hourKey}Z`;
    for (let n = 0; ; n++) {
      const stem = join(this.dir, n === 0 ? base : `${base}.${n}`);
      const finalPath = `${stem}${TRAFFIC_FILE_SUFFIX}`;
      const tempPath = `${finalPath}${TRAFFIC_TEMP_SUFFIX}`;
      if (!existsSync(finalPath) && !existsSync(tempPath)) return { hourKey, tempPath, finalPath };
    }
  }
}
