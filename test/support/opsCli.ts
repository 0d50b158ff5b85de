import { spawn } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');

/** Runs an operations CLI (ops/<tool>/cli.ts) as `npm run <tool>` would, and collects its output. */
export function runOpsCli(
  tool: 'health' | 'validate',
  args: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'ops', tool, 'cli.ts'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The verdict of each row of a printed pass/fail table, by check name. */
export function verdicts(table: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of table.matchAll(/^(\S.*?)\s{2,}(PASS|FAIL|WARN|SKIP)\s{2}/gm)) out[m[1]!.trim()] = m[2]!;
  return out;
}
