import { Worker } from 'node:worker_threads';
import { type PacingMode, fromWire, toWire } from '../core/index';
import { type AlgorithmRun, SimInvariantError } from './engine';
import type { World } from './world';

/**
 * Errors a worker throws come back rebuilt from their code (the class itself cannot cross the
 * thread boundary): a broken invariant stays a SimInvariantError, and any other coded error keeps
 * its code, so the CLI classifies it as it would in one thread.
 */
const REBUILD: Readonly<Record<string, (message: string) => Error>> = {
  SIM_ERR_INVARIANT: (message) => new SimInvariantError(message),
};

export function rebuildWorkerError(err: unknown): Error {
  return fromWire(toWire(err), REBUILD);
}

const ALGORITHM_WORKER = new URL('./algorithmWorker.mjs', import.meta.url);

/**
 * Runs algorithms in worker threads, at most `threads` at once. Each worker rebuilds the world
 * from the scenario and seed (generation is deterministic), so the runs are the ones a single
 * thread would make, and they come back in the order asked.
 */
export async function runAlgorithmsInWorkers(
  world: World,
  algorithms: readonly PacingMode[],
  threads: number,
  onProgress?: (done: number, algorithm: PacingMode) => void,
  checkInvariants?: boolean,
  workerUrl: URL = ALGORITHM_WORKER,
): Promise<AlgorithmRun[]> {
  const results: AlgorithmRun[] = new Array(algorithms.length);
  const done = new Array<number>(algorithms.length).fill(0);
  let next = 0;
  const report = (mode: PacingMode) =>
    onProgress?.(done.reduce((a, b) => a + b, 0) / algorithms.length, mode);
  const one = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const mode = algorithms[i]!;
      const worker = new Worker(workerUrl, {
        workerData: { scenario: world.scenario, seed: world.seed, mode, checkInvariants },
      });
      let failed: Error | undefined;
      worker.on('message', (m: { progress?: number; run?: AlgorithmRun }) => {
        if (m.progress !== undefined) {
          done[i] = m.progress;
          report(mode);
        } else if (m.run !== undefined) {
          results[i] = m.run;
        }
      });
      // Node clones an uncaught error's own fields (code, name, message, stack), not its class.
      worker.once('error', (err) => {
        failed = rebuildWorkerError(err);
      });
      worker.once('exit', (code) => {
        if (failed !== undefined) reject(failed);
        else if (code === 0 && results[i] !== undefined) resolve();
        else reject(new Error(`the worker running ${mode} exited with code ${code}`));
      });
    });
  const lane = async (): Promise<void> => {
    while (next < algorithms.length) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(threads, algorithms.length) }, lane));
  return results;
}
