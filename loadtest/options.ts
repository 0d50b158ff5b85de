import { parseArgs } from 'node:util';
import { PATTERNS, type Pattern } from './pattern';

/** A bad command line: the CLI prints the message and exits 2. */
export class UsageError extends Error {}

export interface LoadTestOptions {
  /** Base URL of the deployment, e.g. http://127.0.0.1:8080 (no trailing slash). */
  readonly target: string;
  readonly setup: boolean;
  readonly campaigns: number;
  readonly qps: number;
  readonly durationS: number;
  readonly pattern: Pattern;
  /** Share of allowed bids that win and get a notice. */
  readonly spendRate: number;
  readonly outDir: string;
  readonly apiKey: string | null;
  /** Most requests on the wire at once; more wait in the client queue, and their wait counts as latency. */
  readonly connections: number;
  readonly timeoutMs: number;
  /** Allowed overspend per campaign, in impressions at the highest bid the tool sends (the README's bound). */
  readonly boundImpressions: number;
  /** The server's BREAKER_TRIP_RATIO, for circuit_breaker_test. */
  readonly tripRatio: number;
  /** Share of failed requests above which the run fails. */
  readonly maxErrorShare: number;
  readonly seed: string;
  readonly progress: boolean;
  /** Longest wait, after the run, for the target's totals to match what it acknowledged. */
  readonly settleMs: number;
}

export const HELP = `Usage: npm run loadtest -- --target http://host:port [options]

Drives POST /pacing/decision of a running deployment at a fixed offered rate (open loop: a slow
answer never delays the next request, and latency is measured from the time each request was
due), sends a win notice (POST /spend/track with event_id and request_id) for a share of the
allowed bids, and at the end checks from GET /budget/status/:id that no campaign spent past its
daily budget plus the stated bound.

Options:
  --target URL            base URL of the deployment (required)
  --setup                 create fresh campaigns for this run (else: the ACTIVE ones it lists)
  --campaigns N           how many to create with --setup or circuit_breaker_test (default 100)
  --qps N                 offered decisions per second (default 100)
  --duration S            seconds (default 60)
  --pattern P             normal (default): --qps throughout
                          surge: --qps, with 5x --qps from 40% to 60% of the run
                          circuit_breaker_test: small ASAP budgets, every allowed bid wins;
                          checks each breaker opens once spend reaches the trip ratio, not before
  --spend-rate R          share of allowed bids that win (default 0.1; 1 in circuit_breaker_test)
  --out DIR               where summary.json and summary.md go (default out/loadtest)
  --api-key K             bearer key of the deployment's write routes (or env API_KEY)
  --connections N         sockets to the target (default 64)
  --timeout-ms N          a request without an answer by then is an error (default 10000)
  --bound-impressions N   allowed overspend per campaign, in impressions at the highest bid sent
                          (default 1: the README's one impression per instance)
  --trip-ratio R          the server's BREAKER_TRIP_RATIO (default 0.95)
  --max-error-share R     fail the run when more requests than this share fail (default 0.01)
  --seed S                picks campaigns, bids and wins (default 1)
  --settle-ms N           longest wait after the run for the totals to settle (default 10000)
  --no-progress           no live progress line (it is only shown on a terminal anyway)
  -h, --help

Exit codes: 0 all checks passed; 1 a campaign passed its bound, a check failed or too many
requests failed; 2 bad arguments.`;

function num(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${flag} "${raw}": expected a number from ${min} to ${max}`);
  }
  return n;
}

function int(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  const n = num(flag, raw, fallback, min, max);
  if (!Number.isInteger(n)) throw new UsageError(`--${flag} "${raw}": expected a whole number`);
  return n;
}

function targetUrl(raw: string | undefined): string {
  if (raw === undefined) throw new UsageError('--target is required, e.g. --target http://127.0.0.1:8080');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--target "${raw}": not a URL; expected e.g. http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:') throw new UsageError(`--target "${raw}": only http:// is supported`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

export function parseOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>) {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help' as const;
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
  const pattern = (v.pattern ?? 'normal') as Pattern;
  if (!PATTERNS.includes(pattern)) {
    throw new UsageError(`--pattern "${v.pattern}": expected one of ${PATTERNS.join(', ')}`);
  }
  const breaker = pattern === 'circuit_breaker_test';
  const options: LoadTestOptions = {
    target: targetUrl(v.target),
    setup: v.setup === true,
    campaigns: int('campaigns', v.campaigns, breaker ? 10 : 100, 1, 100_000),
    qps: num('qps', v.qps, 100, 0.1, 1_000_000),
    durationS: num('duration', v.duration, 60, 0.1, 86_400),
    pattern,
    spendRate: num('spend-rate', v['spend-rate'], breaker ? 1 : 0.1, 0, 1),
    outDir: v.out ?? 'out/loadtest',
    apiKey: v['api-key'] ?? env.API_KEY ?? null,
    connections: int('connections', v.connections, 64, 1, 10_000),
    timeoutMs: int('timeout-ms', v['timeout-ms'], 10_000, 1, 600_000),
    boundImpressions: int('bound-impressions', v['bound-impressions'], 1, 0, 1_000_000),
    tripRatio: num('trip-ratio', v['trip-ratio'], 0.95, 0.01, 0.99),
    maxErrorShare: num('max-error-share', v['max-error-share'], 0.01, 0, 1),
    seed: v.seed ?? '1',
    progress: v['no-progress'] !== true,
    settleMs: int('settle-ms', v['settle-ms'], 10_000, 0, 600_000),
  };
  if (breaker && options.spendRate < 1 && v['spend-rate'] !== undefined) {
    throw new UsageError(
      '--spend-rate must be 1 with circuit_breaker_test: the check needs every allowed bid settled',
    );
  }
  return Object.freeze(options);
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      target: { type: 'string' },
      setup: { type: 'boolean' },
      campaigns: { type: 'string' },
      qps: { type: 'string' },
      duration: { type: 'string' },
      pattern: { type: 'string' },
      'spend-rate': { type: 'string' },
      out: { type: 'string' },
      'api-key': { type: 'string' },
      connections: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'bound-impressions': { type: 'string' },
      'trip-ratio': { type: 'string' },
      'max-error-share': { type: 'string' },
      seed: { type: 'string' },
      'no-progress': { type: 'boolean' },
      'settle-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
