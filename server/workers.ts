import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

/**
 * WORKERS=N: N server processes on one port (node:cluster hands connections to them in turn).
 * Each worker is a full instance of its own (instance id `<id>-w<index>`, its own journal and
 * leases), sharing Redis exactly as separate hosts do; the primary only starts, restarts and stops
 * them.
 */
export const MAX_WORKERS = 256;
/** Set by the primary in each worker's environment. */
export const WORKER_INDEX_ENV = 'PACER_WORKER_INDEX';

/** WORKERS as the config schema let it through ("auto" or digits): the count, in range. */
export function readWorkers(raw: string | undefined, problems: string[]): number {
  if (raw === undefined) return 1;
  if (raw === 'auto') return availableParallelism();
  const n = Number(raw);
  if (!(n >= 1 && n <= MAX_WORKERS)) {
    problems.push(`WORKERS="${raw}" must be "auto" or a whole number from 1 to ${MAX_WORKERS}.`);
    return 1;
  }
  return n;
}

/** The worker index when this process is a worker the primary started, else null. */
export function workerIndex(env: Readonly<Record<string, string | undefined>>): number | null {
  const raw = env[WORKER_INDEX_ENV];
  return cluster.isWorker && raw !== undefined ? Number(raw) : null;
}

export interface SupervisorLog {
  info(msg: string): void;
  error(msg: string): void;
}

/**
 * The primary: forks `count` workers, restarts one that dies (same index and instance id, so it
 * replays its own journal), and on SIGTERM or SIGINT passes the signal on and waits for every worker
 * to finish its graceful shutdown. Exits with the worst code: 78 if a worker found the
 * configuration bad (restarting would only fail again), 1 if one failed to shut down cleanly.
 */
export function superviseWorkers(count: number, baseInstanceId: string, log: SupervisorLog): void {
  const workers = new Map<number, Worker>();
  let stopping = false;
  let exitCode = 0;
  const restartDelayMs = 1000;

  const fork = (index: number) => {
    // Each worker its own embedded database directory: PGlite cannot be opened by two processes.
    const dataDir = join(process.env.DATA_DIR ?? './data', `w${index}`);
    const w = cluster.fork({
      [WORKER_INDEX_ENV]: String(index),
      INSTANCE_ID: `${baseInstanceId}-w${index}`,
      DATA_DIR: dataDir,
    });
    workers.set(index, w);
    w.on('exit', (code, signal) => {
      workers.delete(index);
      if (stopping) {
        if (code !== 0) exitCode = Math.max(exitCode, 1);
        if (workers.size === 0) process.exit(exitCode);
        return;
      }
      if (code === 78) {
        log.error(`worker ${index} refused the configuration (exit 78): stopping`);
        exitCode = 78;
        stopAll('config');
        return;
      }
      log.error(`worker ${index} exited (${signal ?? code}): restarting it in ${restartDelayMs} ms`);
      setTimeout(() => {
        if (!stopping) fork(index);
      }, restartDelayMs);
    });
  };

  const stopAll = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${why}: stopping ${workers.size} workers`);
    if (workers.size === 0) process.exit(exitCode);
    for (const w of workers.values()) w.process.kill('SIGTERM');
  };

  process.on('SIGTERM', () => stopAll('SIGTERM'));
  process.on('SIGINT', () => stopAll('SIGINT'));
  for (let i = 0; i < count; i++) fork(i);
  log.info(`started ${count} workers (instances ${baseInstanceId}-w0..w${count - 1})`);
}
