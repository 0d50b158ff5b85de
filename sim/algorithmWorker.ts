import { parentPort, workerData } from 'node:worker_threads';
import type { PacingMode } from '../core/index';
import { runAlgorithm } from './engine';
import type { Scenario } from './scenario';
import { buildWorld } from './world';

/** One algorithm in a worker thread: the same world, rebuilt from the same scenario and seed. */
interface Job {
  readonly scenario: Scenario;
  readonly seed: number;
  readonly mode: PacingMode;
  readonly checkInvariants?: boolean;
}

const job = workerData as Job;
const world = buildWorld(job.scenario, job.seed);
let shown = -1;
const run = await runAlgorithm(world, job.mode, {
  checkInvariants: job.checkInvariants,
  onProgress: (done) => {
    const pct = Math.floor(done * 100);
    if (pct !== shown) {
      shown = pct;
      parentPort!.postMessage({ progress: done });
    }
  },
});
parentPort!.postMessage({ run });
