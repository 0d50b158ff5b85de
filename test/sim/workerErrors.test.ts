import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { stringify } from 'yaml';
import { EXIT_INTERNAL, main } from '../../cli/sim';
import { CodedError, errorCode } from '../../core/index';
import { SimInvariantError } from '../../sim/engine';
import { runAlgorithmsInWorkers } from '../../sim/parallel';
import { buildWorld } from '../../sim/world';
import { captureIo, smallScenario } from './fixtures';

const INVARIANT_WORKER = new URL('./fixtures/invariantWorker.mjs', import.meta.url);

// Every threaded run in this file uses the worker that breaks an invariant.
vi.mock('../../sim/parallel', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../sim/parallel')>();
  return {
    ...real,
    runAlgorithmsInWorkers: (...args: Parameters<typeof real.runAlgorithmsInWorkers>) =>
      real.runAlgorithmsInWorkers(args[0], args[1], args[2], args[3], args[4], INVARIANT_WORKER),
  };
});

describe('errors thrown in a worker thread', () => {
  it('come back rebuilt from their code: a broken invariant stays a SimInvariantError', async () => {
    const world = buildWorld(smallScenario());
    const err = await runAlgorithmsInWorkers(
      world,
      ['EVEN'],
      1,
      undefined,
      undefined,
      INVARIANT_WORKER,
    ).catch((e) => e);
    expect(errorCode(err)).toBe('SIM_ERR_INVARIANT');
    expect(err).toBeInstanceOf(SimInvariantError);
    expect(err.message).toBe('throttle 1.5 outside [0, 1] for c1');
    // The stack is the worker's, where the invariant broke.
    expect(err.stack).toMatch(/invariantWorker\.ts/);
  }, 60_000);

  it('the threaded sim run reports "invariant broken" with seed and scenario, not "internal error"', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sim-worker-err-'));
    const path = join(dir, 'w.yaml');
    writeFileSync(
      path,
      stringify({
        name: 'w',
        seed: 5,
        algorithms: ['EVEN', 'ASAP'],
        stream: { kind: 'synthetic', meanQps: 1, marketPrice: { medianCpmMicros: 800000, sigma: 0.5 } },
        campaigns: {
          list: [{ id: 'c1', dailyBudgetMicros: 100000, bidCpmMicros: 900000, participation: 0.5 }],
        },
      }),
    );
    const t = captureIo();
    expect(await main([path, '--threads', '2', '--out', join(dir, 'out')], t.io)).toBe(EXIT_INTERNAL);
    const err = t.err.join('');
    expect(err).toMatch(/^invariant broken \(scenario .*w\.yaml, seed 5\): throttle 1\.5/);
    expect(err).not.toMatch(/internal error/);
  }, 60_000);

  it('a coded error of no registered class keeps its code', async () => {
    const { rebuildWorkerError } = await import('../../sim/parallel');
    const clone = Object.assign(new Error('bad row'), {
      name: 'RecordedStreamError',
      code: 'SIM_ERR_BAD_RECORDING',
    });
    const err = rebuildWorkerError(clone);
    expect(err).toBeInstanceOf(CodedError);
    expect([errorCode(err), err.name, err.message]).toEqual([
      'SIM_ERR_BAD_RECORDING',
      'RecordedStreamError',
      'bad row',
    ]);
  });
});
