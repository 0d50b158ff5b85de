import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpendRecord } from '../../core/index';
import { JournalLockedError } from '../../server/errors';
import { FileJournal } from '../../server/store/journal';

const dirs: string[] = [];
const journals: FileJournal[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pacer-journal-'));
  dirs.push(d);
  return d;
}

async function openJournal(dir: string, extra: { compactAfterRecords?: number } = {}): Promise<FileJournal> {
  const j = await FileJournal.open({ dir, instanceId: 'inst/1', ...extra });
  journals.push(j);
  return j;
}

afterEach(async () => {
  for (const j of journals.splice(0)) await j.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function rec(n: number): SpendRecord {
  return {
    eventId: `ev-${n}`,
    campaignId: 'c1',
    dayKey: '2024-03-01',
    hourIndex: n % 25,
    spendMicros: 1000 + n,
    instanceId: 'inst/1',
  };
}

const ids = (rs: readonly SpendRecord[]) => rs.map((r) => r.eventId);

describe('FileJournal', () => {
  it('keeps appended records across a reopen, and the confirmations too', async () => {
    const dir = tempDir();
    const j = await openJournal(dir);
    await j.append([rec(1), rec(2)]);
    await j.append([rec(3)]);
    await j.confirm(2);
    expect(ids(await j.pending())).toEqual(['ev-3']);
    await j.close();
    const again = await openJournal(dir);
    expect(await again.pending()).toEqual([rec(3)]);
    // The instance id is made safe for a file name.
    expect(again.path).toBe(join(dir, 'spend-inst_1.journal'));
  });

  it('truncates the file once every record is confirmed', async () => {
    const dir = tempDir();
    const j = await openJournal(dir);
    await j.append([rec(1), rec(2), rec(3)]);
    expect(statSync(j.path).size).toBeGreaterThan(0);
    await j.confirm(3);
    expect(statSync(j.path).size).toBe(0);
    expect(j.stats().fileBytes).toBe(0);
    await j.append([rec(4)]);
    await j.close();
    expect(ids(await (await openJournal(dir)).pending())).toEqual(['ev-4']);
  });

  it('rewrites a file dominated by confirmed records down to its pending tail', async () => {
    const dir = tempDir();
    const j = await openJournal(dir, { compactAfterRecords: 5 });
    await j.append(Array.from({ length: 20 }, (_, i) => rec(i)));
    const fullBytes = statSync(j.path).size;
    await j.confirm(15);
    expect(statSync(j.path).size).toBeLessThan(fullBytes / 3);
    await j.append([rec(99)]);
    await j.close();
    expect(ids(await (await openJournal(dir)).pending())).toEqual([
      'ev-15',
      'ev-16',
      'ev-17',
      'ev-18',
      'ev-19',
      'ev-99',
    ]);
  });

  it('keeps every acknowledged append when a compaction fails after its rename', async () => {
    const dir = tempDir();
    const j = await openJournal(dir, { compactAfterRecords: 2 });
    await j.append([0, 1, 2, 3, 4].map(rec));
    // The directory fsync after the rename fails once (EIO): the file at the path is the new one.
    const journal = j as unknown as { syncDir: () => Promise<void> };
    const realSyncDir = journal.syncDir.bind(j);
    let failures = 1;
    journal.syncDir = async () => {
      if (failures-- > 0) throw new Error('EIO on directory fsync');
      return realSyncDir();
    };
    await j.confirm(4);
    await j.append([100, 101, 102].map(rec));
    await j.close();
    expect(ids(await (await openJournal(dir)).pending())).toEqual(['ev-4', 'ev-100', 'ev-101', 'ev-102']);
  });

  it('drops a torn last line and keeps every whole line before it', async () => {
    const dir = tempDir();
    const j = await openJournal(dir);
    await j.append([rec(1), rec(2)]);
    await j.close();
    const path = join(dir, 'spend-inst_1.journal');
    const whole = readFileSync(path, 'utf8');
    appendFileSync(path, whole.split('\n')[0]!.slice(0, 30));
    const again = await openJournal(dir);
    expect(ids(await again.pending())).toEqual(['ev-1', 'ev-2']);
    expect(again.stats().droppedLines).toBe(1);
    // The torn bytes are gone, so the next record starts on a line of its own.
    await again.append([rec(3)]);
    await again.close();
    expect(ids(await (await openJournal(dir)).pending())).toEqual(['ev-1', 'ev-2', 'ev-3']);
  });

  it('skips a line whose checksum does not match instead of trusting it', async () => {
    const dir = tempDir();
    const j = await openJournal(dir);
    await j.append([rec(1), rec(2), rec(3)]);
    await j.close();
    const path = join(dir, 'spend-inst_1.journal');
    const lines = readFileSync(path, 'utf8').split('\n');
    lines[1] = lines[1]!.replace('"spendMicros":1002', '"spendMicros":9002');
    writeFileSync(path, lines.join('\n'));
    const again = await openJournal(dir);
    expect(ids(await again.pending())).toEqual(['ev-1', 'ev-3']);
    expect(again.stats().droppedLines).toBe(1);
  });

  it('commits concurrent appends in shared syncs, in order', async () => {
    const dir = tempDir();
    const j = await openJournal(dir);
    await Promise.all(Array.from({ length: 200 }, (_, i) => j.append([rec(i)])));
    expect(j.stats().appendSyncs).toBeLessThan(200);
    expect(ids(await j.pending())).toEqual(Array.from({ length: 200 }, (_, i) => `ev-${i}`));
    await j.close();
    expect((await (await openJournal(dir)).pending()).length).toBe(200);
  });

  it('refuses a journal held by a live process and takes over one left by a dead one', async () => {
    const dir = tempDir();
    const lock = join(dir, 'spend-inst_1.lock');
    writeFileSync(lock, String(process.ppid));
    await expect(FileJournal.open({ dir, instanceId: 'inst/1' })).rejects.toBeInstanceOf(JournalLockedError);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(lock, String(dead));
    const j = await openJournal(dir);
    await j.append([rec(1)]);
    await expect(FileJournal.open({ dir, instanceId: 'inst/1' })).rejects.toMatchObject({
      code: 'PACER_ERR_JOURNAL_LOCKED',
    });
  });

  it('loses no acknowledged record when the writer is killed with SIGKILL mid-stream', async () => {
    const dir = tempDir();
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, '../support/journalWriter.ts'), dir, 'inst/1', '300000'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let lastAck = -1;
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d.toString();
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      child.stdout!.on('data', (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split('\n');
        buf = lines.pop()!;
        for (const l of lines) lastAck = Number(l.slice(4));
        // Enough acknowledged appends that the kill lands in the middle of the stream.
        if (lastAck >= 3000) {
          child.kill('SIGKILL');
          resolve();
        }
      });
      child.once('exit', (code) => {
        if (lastAck < 3000) reject(new Error(`writer exited early (${code}): ${stderr}`));
      });
    });
    await exited;
    const j = await openJournal(dir);
    const got = await j.pending();
    // Every acknowledged record is there, in order, each once, intact; at most the unacknowledged
    // tail (the batch in flight) may be missing.
    expect(got.length).toBeGreaterThanOrEqual(lastAck + 1);
    got.forEach((r, i) => {
      expect(r).toEqual({ ...rec(i), instanceId: 'inst/1' });
    });
    expect(j.stats().droppedLines).toBeLessThanOrEqual(1);
  });
});
