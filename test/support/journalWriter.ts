import { FileJournal } from '../../server/store/journal';

/**
 * Child process for the kill -9 test: appends records as fast as it can and prints "ack <n>"
 * after each append resolves, so the parent knows exactly what was acknowledged when it kills us.
 * Args: <dir> <instanceId> <maxRecords>
 */
const [dir, instanceId, maxArg] = process.argv.slice(2);
const max = Number(maxArg ?? 100_000);
const journal = await FileJournal.open({ dir: dir!, instanceId: instanceId! });
for (let i = 0; i < max; i += 3) {
  const batch = [i, i + 1, i + 2].map((n) => ({
    eventId: `ev-${n}`,
    campaignId: 'c1',
    dayKey: '2024-03-01',
    hourIndex: n % 25,
    spendMicros: 1000 + n,
    instanceId: instanceId!,
  }));
  await journal.append(batch);
  process.stdout.write(`ack ${i + 2}\n`);
}
await journal.close();
