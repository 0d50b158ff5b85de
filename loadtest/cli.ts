import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  MAX_IMPRESSION_MICROS,
  type PlannedCampaign,
  TargetError,
  createCampaigns,
  listActiveCampaigns,
  planCampaigns,
} from './campaigns';
import {
  StatusError,
  type StatusFigures,
  budgetViolations,
  checkBreakers,
  fetchStatuses,
  totalMismatches,
} from './checks';
import { HttpClient, errorKey } from './httpClient';
import { type RunResult, runOpenLoop } from './openLoop';
import { HELP, type LoadTestOptions, UsageError, parseOptions } from './options';
import { Schedule, ratePlan } from './pattern';
import { type LoadTestSummary, latencySummary, offeredQps, progressLine, summaryMarkdown } from './summary';

export const EXIT_OK = 0;
export const EXIT_CHECK_FAILED = 1;
export const EXIT_BAD_INPUT = 2;

export interface Io {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  /** The live progress line goes to stderr only when it is a terminal. */
  readonly stderrIsTty: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Names this run's campaigns and events apart from earlier runs'. */
  readonly runTag: string;
}

/** Spend reaches every instance's view within a sync (250 ms): the checks poll at that pace. */
const SETTLE_EVERY_MS = 250;

export async function main(argv: readonly string[], io: Io): Promise<number> {
  let o: LoadTestOptions;
  try {
    const parsed = parseOptions(argv, io.env);
    if (parsed === 'help') {
      io.stdout(`${HELP}\n`);
      return EXIT_OK;
    }
    o = parsed;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`loadtest: ${err.message}\n\n${HELP}\n`);
    return EXIT_BAD_INPUT;
  }
  const client = new HttpClient(o.target, o.apiKey, o.connections, o.timeoutMs);
  try {
    return await runAndCheck(o, client, io);
  } catch (err) {
    if (!(err instanceof TargetError || err instanceof StatusError)) throw err;
    io.stderr(`loadtest: ${err.message}\n`);
    return EXIT_CHECK_FAILED;
  } finally {
    client.close();
  }
}

async function runAndCheck(o: LoadTestOptions, client: HttpClient, io: Io): Promise<number> {
  const health = await client.send('GET', '/health');
  if (health.status !== 200) {
    throw new TargetError(`${o.target}/health answered ${errorKey(health)}: is the server running there?`);
  }
  const created = o.setup || o.pattern === 'circuit_breaker_test';
  let campaigns: PlannedCampaign[];
  if (created) {
    campaigns = planCampaigns(o, io.runTag);
    io.stderr(`creating ${campaigns.length} campaigns (lt-${io.runTag}-*)\n`);
    await createCampaigns(client, campaigns);
  } else {
    campaigns = await listActiveCampaigns(client);
  }

  const phases = ratePlan(o.pattern, o.qps, o.durationS);
  const schedule = new Schedule(phases);
  const showProgress = o.progress && io.stderrIsTty;
  const run = await runOpenLoop({
    client,
    campaigns,
    schedule,
    runTag: io.runTag,
    seed: o.seed,
    spendRate: o.spendRate,
    ...(showProgress ? { onProgress: (p) => io.stderr(progressLine({ ...p, durationS: o.durationS })) } : {}),
  });
  if (showProgress) io.stderr('\n');

  const summary = await check(o, client, campaigns, created, run);
  mkdirSync(o.outDir, { recursive: true });
  writeFileSync(join(o.outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  const md = summaryMarkdown(summary);
  writeFileSync(join(o.outDir, 'summary.md'), md);
  io.stdout(md);
  io.stderr(`summary written to ${join(o.outDir, 'summary.json')} and summary.md\n`);
  return summary.ok ? EXIT_OK : EXIT_CHECK_FAILED;
}

async function check(
  o: LoadTestOptions,
  client: HttpClient,
  campaigns: readonly PlannedCampaign[],
  created: boolean,
  run: RunResult,
): Promise<LoadTestSummary> {
  const touched = campaigns.filter((c) => (run.tallies.get(c.id)?.decisions ?? 0) > 0).map((c) => c.id);
  // Spend reaches the answering instance's view within a sync: poll until the totals settle.
  let statuses: StatusFigures[] = [];
  const settleBy = performance.now() + o.settleMs;
  for (;;) {
    statuses = await fetchStatuses(client, touched);
    if (!created || totalMismatches(statuses, run.tallies).length === 0) break;
    if (performance.now() >= settleBy) break;
    await new Promise((r) => setTimeout(r, SETTLE_EVERY_MS));
  }
  const boundMicros = o.boundImpressions * MAX_IMPRESSION_MICROS;
  const violations = budgetViolations(statuses, boundMicros);
  const mismatches = created ? totalMismatches(statuses, run.tallies) : [];
  const breaker =
    o.pattern === 'circuit_breaker_test' ? checkBreakers(statuses, run.tallies, o.tripRatio) : null;
  const decisionErrors = Object.values(run.decisionErrors).reduce((a, b) => a + b, 0);
  const errorShare = run.offered === 0 ? 0 : decisionErrors / run.offered;

  const failures: string[] = [];
  for (const v of violations) {
    failures.push(
      `${v.campaignId} spent ${v.spentMicros} micros, past its budget ${v.budgetMicros} + bound ${v.boundMicros}`,
    );
  }
  for (const m of mismatches) {
    failures.push(
      `${m.campaignId}: server total ${m.serverMicros} micros, but it acknowledged ${m.countedMicros} (+ ${m.uncertainMicros} unknown)`,
    );
  }
  if (breaker) failures.push(...breaker.failures);
  if (errorShare > o.maxErrorShare) {
    failures.push(
      `${(errorShare * 100).toFixed(2)}% of decisions failed (${decisionErrors}), above --max-error-share ${o.maxErrorShare}`,
    );
  }
  return {
    target: o.target,
    pattern: o.pattern,
    phases: ratePlan(o.pattern, o.qps, o.durationS),
    durationS: o.durationS,
    campaigns: campaigns.length,
    offeredRequests: run.offered,
    completedRequests: run.completed,
    offeredQps: offeredQps(o, run.offered),
    achievedQps: Math.round((run.completed / run.elapsedS) * 1000) / 1000,
    maxSendLagMs: Math.round(run.maxSendLagMs * 1000) / 1000,
    decisionLatencyMs: latencySummary(run.decisionLatency),
    decisionsByReason: run.reasons,
    decisionErrorsByStatus: run.decisionErrors,
    errorShare,
    winNotices: {
      ...run.notices,
      latencyMs: latencySummary(run.trackLatency),
      errorsByStatus: run.trackErrors,
    },
    budgetCheck: { campaignsChecked: statuses.length, boundMicros, violations },
    totalsCheck: created ? { checked: statuses.length, mismatches } : null,
    breakerCheck: breaker ? { ...breaker, tripRatio: o.tripRatio } : null,
    failures,
    ok: failures.length === 0,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2), {
    stdout: (s) => process.stdout.write(s),
    stderr: (s) => process.stderr.write(s),
    stderrIsTty: process.stderr.isTTY === true,
    env: process.env,
    runTag: Date.now().toString(36),
  }).then((code) => {
    process.exitCode = code;
  });
}
