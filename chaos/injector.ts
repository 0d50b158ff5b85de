import { unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Cluster, Slot } from './cluster';
import type { FaultObservations, ObservedWindow } from './exposure';
import { type Fault, REDIS_FAULTS, describeFault } from './faults';
import { send } from './http';
import type { DuplicateCheck } from './invariants';
import { intBetween, streamRand } from './random';

/**
 * Plays a fault schedule against a cluster in real time: one task per fault that starts it at its
 * offset from the traffic start and undoes it at its end. Records what actually happened and when
 * (real timing varies from run to run; the schedule does not), which is what the exposure term E
 * and the report are computed from.
 */
export interface FaultRecord {
  readonly fault: Fault;
  startedAtMs: number | null;
  endedAtMs: number | null;
  /** Why it was not injected (a tool missing on this machine), or null. */
  skipped: string | null;
  notes: string[];
}

export interface InjectorOptions {
  readonly seed: number;
  /** Faults whose tool is missing, with the reason. */
  readonly unavailable: ReadonlyMap<string, string>;
}

/** How long a duplicate-id server may run before the harness asks whether it was let in. */
const DUPLICATE_VERDICT_MS = 3000;
const FILLER = 'chaos-filler';

function sleepUntil(nowMs: () => number, atMs: number): Promise<void> {
  const waitMs = atMs - nowMs();
  return waitMs > 0 ? new Promise((r) => setTimeout(r, waitMs)) : Promise.resolve();
}

/** Writes zeros into `dir` until the file system refuses: ENOSPC for everyone else. */
async function fillDisk(dir: string): Promise<number> {
  const fh = await open(join(dir, FILLER), 'a');
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0;
  try {
    for (;;) {
      try {
        const { bytesWritten } = await fh.write(chunk);
        written += bytesWritten;
        if (bytesWritten === 0) break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        // The last partial chunk: halves until not one byte fits.
        let step = chunk.length >> 1;
        while (step > 0) {
          try {
            written += (await fh.write(chunk, 0, step)).bytesWritten;
          } catch {
            step >>= 1;
          }
        }
        break;
      }
    }
  } finally {
    await fh.close();
  }
  return written;
}

export class FaultInjector {
  readonly records: FaultRecord[];
  readonly duplicates: DuplicateCheck[] = [];
  private readonly forwardSteps: Array<{ slot: number; atMs: number }> = [];

  constructor(
    private readonly cluster: Cluster,
    schedule: readonly Fault[],
    private readonly o: InjectorOptions,
    private readonly nowMs: () => number,
  ) {
    this.records = schedule.map((fault) => ({
      fault,
      startedAtMs: null,
      endedAtMs: null,
      skipped: o.unavailable.get(fault.kind) ?? null,
      notes: [],
    }));
  }

  /** Runs every fault; resolves when the last one has been undone. */
  run(trafficStartMs: number): Promise<void> {
    return Promise.all(this.records.map((r, i) => this.play(r, i, trafficStartMs))).then(() => undefined);
  }

  private async play(r: FaultRecord, index: number, t0: number): Promise<void> {
    if (r.skipped !== null) return;
    await sleepUntil(this.nowMs, t0 + r.fault.startMs);
    r.startedAtMs = this.nowMs();
    const endAt = t0 + r.fault.startMs + r.fault.durationMs;
    try {
      await this.inject(r, index, endAt);
    } catch (err) {
      r.notes.push(`failed: ${(err as Error).message.split('\n')[0]}`);
    }
    r.endedAtMs = this.nowMs();
  }

  private slot(f: Fault): Slot {
    return this.cluster.slots[f.instance!]!;
  }

  private async inject(r: FaultRecord, index: number, endAt: number): Promise<void> {
    const f = r.fault;
    const redis = this.cluster.redis;
    switch (f.kind) {
      case 'redis-kill':
        await redis.stop();
        await sleepUntil(this.nowMs, endAt);
        await redis.restart();
        return;
      case 'redis-empty':
        await this.cluster.wipeRedis();
        await sleepUntil(this.nowMs, endAt);
        await redis.restart();
        return;
      case 'redis-hang':
        redis.pause();
        await sleepUntil(this.nowMs, endAt);
        redis.resume();
        return;
      case 'redis-slow':
        return this.slowRedis(index, endAt);
      case 'instance-kill': {
        const s = this.slot(f);
        await this.cluster.kill9(s);
        await sleepUntil(this.nowMs, endAt);
        await this.cluster.restart(s);
        return;
      }
      case 'disk-full': {
        const s = this.slot(f);
        const bytes = await fillDisk(s.journalDir);
        r.notes.push(`filled ${bytes} bytes`);
        await sleepUntil(this.nowMs, endAt);
        unlinkSync(join(s.journalDir, FILLER));
        return;
      }
      case 'clock-step': {
        const s = this.slot(f);
        const stepS = f.clockStepS ?? 0;
        this.cluster.setClockOffset(s, stepS);
        if (stepS > 0) this.forwardSteps.push({ slot: s.slot, atMs: this.nowMs() });
        await sleepUntil(this.nowMs, endAt);
        this.cluster.setClockOffset(s, 0);
        if (stepS < 0) this.forwardSteps.push({ slot: s.slot, atMs: this.nowMs() });
        return;
      }
      case 'duplicate-instance':
        return this.duplicate(r, endAt);
    }
  }

  /** CLIENT PAUSE bursts: every command waits up to 900 ms, past the server's 500 ms command timeout or not. */
  private async slowRedis(index: number, endAt: number): Promise<void> {
    const rand = streamRand(this.o.seed, `slow:${index}`);
    const redis = this.cluster.redis;
    while (this.nowMs() < endAt) {
      const pauseMs = intBetween(rand, 100, 900);
      await redis.command('CLIENT', 'PAUSE', String(pauseMs), 'ALL');
      await sleepUntil(this.nowMs, Math.min(endAt, this.nowMs() + pauseMs + intBetween(rand, 50, 600)));
    }
    await redis.command('CLIENT', 'UNPAUSE');
  }

  private async duplicate(r: FaultRecord, endAt: number): Promise<void> {
    const original = this.slot(r.fault);
    let dup: Slot;
    try {
      dup = await this.cluster.addServer(original.instanceId, original.slot);
    } catch (err) {
      const why = (err as Error).message.split('\n')[0] ?? '';
      r.notes.push(`duplicate refused to start: ${why}`);
      this.duplicates.push({
        slot: original.slot,
        instanceId: original.instanceId,
        acceptedHealthy: false,
        detail: why,
      });
      return;
    }
    await sleepUntil(this.nowMs, Math.min(endAt, this.nowMs() + DUPLICATE_VERDICT_MS));
    const verdict = await this.duplicateVerdict(dup);
    this.duplicates.push({ slot: original.slot, instanceId: original.instanceId, ...verdict });
    r.notes.push(`duplicate slot ${dup.slot}: ${verdict.detail}`);
    await sleepUntil(this.nowMs, endAt);
    if (dup.up) await this.cluster.stop(dup);
  }

  private async duplicateVerdict(dup: Slot): Promise<{ acceptedHealthy: boolean; detail: string }> {
    if (!dup.up) return { acceptedHealthy: false, detail: 'stopped' };
    const res = await send('GET', `${dup.url}/health`, {
      timeoutMs: 2000,
      apiKey: this.cluster.options.apiKey,
    });
    if (res.kind !== 'answer') return { acceptedHealthy: false, detail: `exited or silent (${res.kind})` };
    const status = (res.body as { status?: string }).status;
    return {
      acceptedHealthy: res.status === 200 && status === 'healthy',
      detail: `answered /health ${res.status} ${status ?? ''} while the original ran`.trim(),
    };
  }

  observations(): FaultObservations {
    const redisOutages: ObservedWindow[] = this.records
      .filter((r) => REDIS_FAULTS.has(r.fault.kind) && r.startedAtMs !== null)
      .map((r) => ({ startMs: r.startedAtMs!, endMs: r.endedAtMs ?? Number.POSITIVE_INFINITY }));
    return { processEnds: this.cluster.processEnds, redisOutages, forwardClockSteps: this.forwardSteps };
  }

  describe(): string[] {
    return this.records.map((r) => {
      const extra = r.skipped ? ` SKIPPED: ${r.skipped}` : r.notes.length ? ` (${r.notes.join('; ')})` : '';
      return `${describeFault(r.fault)}${extra}`;
    });
  }
}
