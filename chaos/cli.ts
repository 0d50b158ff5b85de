import { writeFileSync } from 'node:fs';
import { type ChaosArgs, USAGE, UsageError, parseChaosArgs } from './args';
import { cleanupAll } from './cleanup';
import { describeFault } from './faults';
import { formatRun, replayCommand, resultsTable, violationSummary } from './report';
import { type RunResult, runOnce } from './run';
import { generateSchedule } from './schedule';

/**
 * `npm run chaos`: runs of the fault harness one after another, each from its own seed. Exit 0
 * when no invariant broke, 1 when one did (or a run could not be carried out), 2 on bad arguments.
 */
function parse(): ChaosArgs {
  try {
    return parseChaosArgs(process.argv.slice(2), () => Date.now() % 1_000_000_000);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${USAGE}\n`);
    process.exit(2);
  }
}

async function main(): Promise<number> {
  const args = parse();
  if (args.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (args.plan) {
    for (let i = 0; i < args.runs; i++) {
      const seed = args.seed + i;
      const schedule = generateSchedule({
        seed,
        trafficMs: Math.round(args.minutes * 60_000),
        instances: args.instances,
        faults: args.faults,
      });
      process.stdout.write(`seed ${seed}: ${schedule.map(describeFault).join(' | ') || 'no faults'}\n`);
    }
    return 0;
  }
  let stopping = false;
  const interrupt = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`\n${signal}: stopping every process this run started\n`);
    void cleanupAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', () => interrupt('SIGINT'));
  process.on('SIGTERM', () => interrupt('SIGTERM'));

  process.stdout.write(
    `chaos: ${args.runs} run(s) from seed ${args.seed}, ${args.minutes} min each, ${args.instances} instances, faults ${args.faults.join(',') || 'none'}\n`,
  );
  const results: RunResult[] = [];
  let failed = 0;
  for (let i = 0; i < args.runs && !stopping; i++) {
    const seed = args.seed + i;
    const replay = replayCommand(seed, args.minutes, args.instances, args.faults, args.allFaults);
    try {
      const r = await runOnce({
        seed,
        minutes: args.minutes,
        instances: args.instances,
        faults: args.faults,
        log: (line) => process.stderr.write(`  ${new Date().toISOString().slice(11, 19)} ${line}\n`),
      });
      results.push(r);
      if (r.violations.length > 0) failed++;
      process.stdout.write(`${formatRun(r, replay)}\n`);
      if (r.violations.length > 0 && args.runs === 1) process.stdout.write(`${r.serverLogs}\n`);
    } catch (err) {
      failed++;
      process.stdout.write(`seed ${seed}: RUN ERROR ${(err as Error).message}\n  replay: ${replay}\n`);
    }
    if (args.results !== null) {
      writeFileSync(args.results, `${resultsTable(results)}\n\n${violationSummary(results)}\n`);
    }
  }
  process.stdout.write(`chaos: ${args.runs - failed} of ${args.runs} runs kept every invariant\n`);
  return failed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    await cleanupAll();
    process.exit(1);
  },
);
