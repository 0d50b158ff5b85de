import { type CheckResult, exitCodeOf, renderTable } from '../checkTable';
import { numberOption, parseCli, runCommand } from '../cliArgs';
import { PacerClient } from '../pacerClient';
import { healthChecks } from './checks';

/**
 * npm run health -- --url http://host:port [--url ...] [--key API_KEY] [--redis-url redis://...]
 *   [--samples 20] [--max-latency-ms 100] [--max-decision-p99-ms 10]
 *
 * Exit codes: 0 every check passed (warnings allowed), 1 a check failed, 2 bad arguments.
 */
const USAGE = `Usage: npm run health -- --url http://host:port [--url ...] [--key API_KEY]
  [--redis-url redis://host:6379] [--samples 20] [--max-latency-ms 100] [--max-decision-p99-ms 10]
A quick health check of running pacer instances: liveness, readiness, store, journal backlog,
PostgreSQL, Redis memory (with --redis-url), a latency sample, server-side decision latency, breakers.
Exit code 0 when nothing failed, 1 when a check failed, 2 on bad arguments.`;

async function main(argv: readonly string[]): Promise<number> {
  const { common, values } = parseCli(
    argv,
    {
      'redis-url': { type: 'string' },
      samples: { type: 'string' },
      'max-latency-ms': { type: 'string' },
      'max-decision-p99-ms': { type: 'string' },
    },
    USAGE,
  );
  const opts = {
    samples: Math.round(numberOption(values, 'samples', 20, USAGE)),
    maxLatencyMs: numberOption(values, 'max-latency-ms', 100, USAGE),
    maxDecisionP99Ms: numberOption(values, 'max-decision-p99-ms', 10, USAGE),
    redisUrl: (values['redis-url'] as string | undefined) ?? null,
  };
  const all: CheckResult[] = [];
  for (const url of common.urls) {
    const results = await healthChecks(new PacerClient(url, common.apiKey), opts);
    process.stdout.write(renderTable(`Health of ${url}`, results));
    all.push(...results);
  }
  return exitCodeOf(all);
}

runCommand(main, process.argv.slice(2), 'health check');
