import { Worker } from 'node:worker_threads';
import type { PacingMode } from '../core/index';
import type { AlgorithmRun } from './engine';
import type { World } from './world';

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
): Promise<AlgorithmRun[]> {
  const results: AlgorithmRun[] = new Array(algorithms.length);
  const done = new Array<number>(algorithms.length).fill(0);
  let next = 0;
  const report = (mode: PacingMode) =>
    onProgress?.(done.reduce((a, b) => a + b, 0) / algorithms.length, mode);
  const one = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const mode = algorithms[i]!;
      const worker = new Worker(new URL('./algorithmWorker.mjs', import.meta.url), {
        workerData: { scenario: world.scenario, seed: world.seed, mode, checkInvariants },
      });
      worker.on('message', (m: { progress?: number; run?: AlgorithmRun }) => {
        if (m.progress !== undefined) {
          done[i] = m.progress;
          report(mode);
        } else if (m.run !== undefined) {
          results[i] = m.run;
        }
      });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        if (code === 0 && results[i] !== undefined) resolve();
        else reject(new Error(`the worker running ${mode} exited with code ${code}`));
      });
    });
  const lane = async (): Promise<void> => {
    while (next < algorithms.length) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(threads, algorithms.length) }, lane));
  return results;
}
