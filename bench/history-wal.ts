/**
 * What the history write-ahead log costs a win notice. With Redis, a counted notice is fsynced to
 * the history log (server/records/historyWal.ts) before it is acknowledged, so a kill -9 followed
 * by the loss of Redis loses none of it (chaos seed 606). Measured here: notices per second through
 * HistoryWriter.addDurably (log, group commit) against HistoryWriter.add (memory only, as before)
 * and against the spend journal's append (server/store/journal.ts: the same fsync per group that
 * every notice already paid while Redis was down), at 1, 8 and 64 notices in flight, on the disk
 * the server's JOURNAL_DIR would use. PostgreSQL is a stub here: its writes are not what is
 * measured. The fsync count per notice says how well group commit works.
 *
 * Run: npm run bench:wal   Writes bench/results/history-wal.md.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { SpendRecord } from '../core/store';
import type { HistoryRecords } from '../server/records/historyRecords';
import { HistoryWriter } from '../server/records/historyWriter';
import { intervalTimers, monotonicClock } from '../server/runtime/time';
import { FileJournal } from '../server/store/journal';
import { machineLine } from './machine';

const NOTICES = 4_000;
const CONCURRENCY = [1, 8, 64];
const root = join('out', 'bench-wal');
rmSync(root, { recursive: true, force: true });
mkdirSync(root, { recursive: true });
const clock = monotonicClock(() => Date.now());
const quiet = { info: () => {}, warn: () => {} };
/** A history that stores nothing: only the local cost of the notice path is measured. */
const stubHistory = { recordSpend: async () => [], pruneEvents: async () => 0 } as unknown as HistoryRecords;

function record(n: number): SpendRecord {
  return {
    eventId: `wal-bench-${n}`,
    campaignId: `camp-${n % 100}`,
    dayKey: '2026-11-30',
    hourIndex: 22,
    spendMicros: 1_000 + (n % 997),
    instanceId: 'bench',
  };
}

/** `notices` calls of `one`, `inFlight` at a time, like concurrent HTTP requests; notices/s. */
async function drive(inFlight: number, one: (n: number) => Promise<void>): Promise<number> {
  let next = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < NOTICES) await one(next++);
    }),
  );
  return NOTICES / (Number(process.hrtime.bigint() - started) / 1e9);
}

function writer(dir: string): HistoryWriter {
  return new HistoryWriter({
    history: stubHistory,
    clock,
    timers: intervalTimers,
    instanceId: 'bench',
    spillDir: dir,
    // Nothing is written to the stub during a run: the queue just holds what was added.
    intervalMs: 3_600_000,
    maxQueuedRecords: 10 * NOTICES,
    log: quiet,
  });
}

interface Row {
  readonly inFlight: number;
  readonly memory: number;
  readonly wal: number;
  readonly journal: number;
  readonly journalSyncsPerNotice: number;
}

const loadBefore = loadavg()[0]!;
const rows: Row[] = [];
for (const inFlight of CONCURRENCY) {
  const dir = join(root, `c${inFlight}`);
  const mem = writer(join(dir, 'mem'));
  const memory = await drive(inFlight, async (n) => mem.add(record(n), 'g1'));
  const logged = writer(join(dir, 'wal'));
  const wal = await drive(inFlight, (n) => logged.addDurably([{ record: record(n), generation: 'g1' }]));
  const journal = await FileJournal.open({ dir: join(dir, 'journal'), instanceId: 'bench' });
  const journaled = await drive(inFlight, (n) => journal.append([record(n)]));
  const syncs = journal.stats().appendSyncs;
  await journal.close();
  rows.push({ inFlight, memory, wal, journal: journaled, journalSyncsPerNotice: syncs / NOTICES });
  process.stderr.write(
    `in flight ${inFlight}: memory ${memory.toFixed(0)}/s, log ${wal.toFixed(0)}/s, journal ${journaled.toFixed(0)}/s\n`,
  );
}
const loadAfter = loadavg()[0]!;
rmSync(root, { recursive: true, force: true });

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const table = `# The history write-ahead log: what a win notice pays for it

Command: \`npm run bench:wal\` (bench/history-wal.ts): ${NOTICES.toLocaleString('en-US')} notices per cell, on the disk under
\`out/\` (ext4 on the VM's virtio disk, as a server's JOURNAL_DIR would be).
Machine: ${machineLine()}; load average (1 min) ${loadBefore.toFixed(2)} at the start, ${loadAfter.toFixed(2)} at the end.

With Redis, each counted notice is fsynced to the history log before it is acknowledged
(group commit: notices in flight together share one write and one fsync). Columns: notices per
second through \`HistoryWriter.add\` (memory only, the behaviour before the log), through
\`addDurably\` (the log), and through the spend journal's \`append\` (the same fsync every notice
already paid while Redis was down), each in the same run.

| notices in flight | memory only | history log | log / memory | spend journal | log / journal | journal fsyncs per notice |
| ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${rows
  .map(
    (r) =>
      `| ${r.inFlight} | ${fmt(r.memory)} | ${fmt(r.wal)} | ${(r.wal / r.memory).toFixed(4)} | ${fmt(r.journal)} | ${(r.wal / r.journal).toFixed(2)} | ${r.journalSyncsPerNotice.toFixed(3)} |`,
  )
  .join('\n')}

Reading: the log makes a notice's acknowledgement wait for one fsync, shared by the notices in
flight with it; a notice path that answered from memory now runs at the disk's fsync rate times
the group size. It is the price of the guarantee that spend Redis counted survives a kill -9
followed by the loss of Redis; the spend journal, which every notice already went through during
an outage, costs the same.
`;
writeFileSync('bench/results/history-wal.md', table);
process.stdout.write(table);
process.exit(0);
