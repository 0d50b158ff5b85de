import { exitCodeOf, renderTable } from '../checkTable';
import { UsageError, numberOption, parseCli, runCommand } from '../cliArgs';
import { PacerClient } from '../pacerClient';
import { type SuiteOptions, ValidationContext } from './context';
import { runSuite } from './suite';

const USAGE = `Usage: npm run validate -- --url http://host:port [--url http://other:port ...] [--key API_KEY]
  [--max-p99-ms 50] [--decisions 200] [--breaker-mode precision|classic] [--trip-ratio 0.95]
  [--breaker-cooldown-ms 300000]
  [--max-wait-ms 30000] [--concurrent-spends 500]
The validation suite against a running deployment: connectivity, p99 decision latency, budget
tracking to the micro, the breaker tripping (precision: once spend passes the budget, bids that
fit still allowed just below it; classic: at the trip ratio), pacing modes, concurrent spends,
recovery after the breaker's cool-down, persistence (across instances when several --url are
given). It creates campaigns named validate-<run>-* and deletes them at the end.
--breaker-mode, --trip-ratio and --breaker-cooldown-ms must match the deployment's BREAKER_MODE
(default precision), BREAKER_TRIP_RATIO and BREAKER_COOLDOWN_MS; recovery is skipped when the cool-down is longer than --max-wait-ms.
Exit code 0 when nothing failed, 1 when a check failed, 2 on bad arguments.`;

async function main(argv: readonly string[]): Promise<number> {
  const { common, values } = parseCli(
    argv,
    {
      'max-p99-ms': { type: 'string' },
      decisions: { type: 'string' },
      'breaker-mode': { type: 'string' },
      'trip-ratio': { type: 'string' },
      'breaker-cooldown-ms': { type: 'string' },
      'max-wait-ms': { type: 'string' },
      'concurrent-spends': { type: 'string' },
    },
    USAGE,
  );
  const tripRatio = numberOption(values, 'trip-ratio', 0.95, USAGE);
  if (tripRatio > 0.98 || tripRatio < 0.05)
    throw new UsageError(`--trip-ratio must be from 0.05 to 0.98.\n\n${USAGE}`);
  const breakerMode = values['breaker-mode'] ?? 'precision';
  if (breakerMode !== 'precision' && breakerMode !== 'classic')
    throw new UsageError(`--breaker-mode must be precision or classic, not "${breakerMode}".\n\n${USAGE}`);
  const opts: SuiteOptions = {
    breakerMode,
    maxP99Ms: numberOption(values, 'max-p99-ms', 50, USAGE),
    decisionSamples: Math.round(numberOption(values, 'decisions', 200, USAGE)),
    tripRatio,
    cooldownMs: numberOption(values, 'breaker-cooldown-ms', 300_000, USAGE),
    maxWaitMs: numberOption(values, 'max-wait-ms', 30_000, USAGE),
    concurrentSpends: Math.round(numberOption(values, 'concurrent-spends', 500, USAGE)),
  };
  const clients = common.urls.map((u) => new PacerClient(u, common.apiKey));
  const runId = Date.now().toString(36);
  const results = await runSuite(new ValidationContext(clients, runId, opts));
  process.stdout.write(renderTable(`Validation of ${common.urls.join(', ')} (run ${runId})`, results));
  return exitCodeOf(results);
}

runCommand(main, process.argv.slice(2), 'validation');
