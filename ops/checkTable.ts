/** One row of a pass/fail table: what was checked, the verdict, and the figures behind it. */
export interface CheckResult {
  readonly name: string;
  readonly verdict: 'PASS' | 'FAIL' | 'WARN' | 'SKIP';
  readonly detail: string;
}

export function pass(name: string, detail: string): CheckResult {
  return { name, verdict: 'PASS', detail };
}
export function fail(name: string, detail: string): CheckResult {
  return { name, verdict: 'FAIL', detail };
}
export function warn(name: string, detail: string): CheckResult {
  return { name, verdict: 'WARN', detail };
}
export function skip(name: string, detail: string): CheckResult {
  return { name, verdict: 'SKIP', detail };
}

/** A check that threw (connection refused, a body of the wrong shape) fails with the cause. */
export async function guarded(name: string, run: () => Promise<CheckResult>): Promise<CheckResult> {
  try {
    return await run();
  } catch (err) {
    return fail(name, describeError(err));
  }
}

/** The table as text: a column per field, one row per check, and a summary line. */
export function renderTable(title: string, results: readonly CheckResult[]): string {
  const nameWidth = Math.max(5, ...results.map((r) => r.name.length));
  const line = (a: string, b: string, c: string) => `${a.padEnd(nameWidth)}  ${b.padEnd(7)}  ${c}`;
  const rows = results.map((r) => line(r.name, r.verdict, r.detail));
  const count = (v: CheckResult['verdict']) => results.filter((r) => r.verdict === v).length;
  return [
    title,
    '',
    line('check', 'result', 'detail'),
    line('-'.repeat(nameWidth), '-------', '------'),
    ...rows,
    '',
    `${count('PASS')} passed, ${count('FAIL')} failed, ${count('WARN')} warnings, ${count('SKIP')} skipped`,
    '',
  ].join('\n');
}

/** 0 when nothing failed, 1 otherwise (warnings and skips do not fail a run). */
export function exitCodeOf(results: readonly CheckResult[]): number {
  return results.some((r) => r.verdict === 'FAIL') ? 1 : 0;
}

/** An error's message with its causes (fetch says only "fetch failed"; the cause says ECONNREFUSED). */
export function describeError(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 4; depth++) {
    parts.push(e instanceof Error ? e.message : String(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(': ');
}
