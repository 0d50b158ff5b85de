import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redisServer';
import { waitFor } from './serverProcess';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface PrometheusHandle {
  readonly url: string;
  /** GET /api/v1/query at the current time: the parsed `data`, or the error Prometheus gave. */
  query(expr: string): Promise<{ resultType: string; result: { metric: Record<string, string> }[] }>;
  api<T>(path: string): Promise<T>;
  output(): string;
  dispose(): Promise<void>;
}

/**
 * A private Prometheus (Debian's binary) on 127.0.0.1, a free port and a temp dir, scraping
 * `targets` as job "pacer" every second and evaluating `ruleFiles` every second. Stopped by pid.
 */
export async function startPrometheus(opts: {
  targets: readonly string[];
  ruleFiles: readonly string[];
}): Promise<PrometheusHandle> {
  const dir = mkdtempSync(join(tmpdir(), 'pacer-prometheus-'));
  const port = await freePort();
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  evaluation_interval: 1s',
    'rule_files:',
    ...opts.ruleFiles.map((f) => `  - ${JSON.stringify(f)}`),
    'scrape_configs:',
    '  - job_name: pacer',
    '    static_configs:',
    `      - targets: ${JSON.stringify(opts.targets)}`,
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), `${config}\n`);
  let out = '';
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.on('data', (d) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d) => {
    out += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;

  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${url}${path}`);
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`${path}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  const dispose = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`prometheus on ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${out}`);
      return (await fetch(`${url}/-/ready`)).ok;
    });
  } catch (err) {
    await dispose();
    throw err;
  }
  return {
    url,
    api,
    query: (expr) => api(`/api/v1/query?query=${encodeURIComponent(expr)}`),
    output: () => out,
    dispose,
  };
}
