import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisMarker } from '../../server/records/generationMarker';

/** The machine's shared Redis; every key of this file lives under its own prefix. */
const REDIS_URL = 'redis://127.0.0.1:6379';
const prefix = `markertest${process.pid}:`;
const markers: RedisMarker[] = [];

afterAll(async () => {
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
  for (const m of markers) await m.close();
});

/** A marker under `prefix` + `sub`: the markers of one test share their keys, tests do not. */
function marker(sub: string): RedisMarker {
  const m = new RedisMarker(REDIS_URL, `${prefix}${sub}:`);
  markers.push(m);
  return m;
}

describe('RedisMarker repair lock', () => {
  it('is held by one owner, extended only by it, and freed only by it', async () => {
    const a = marker('t1');
    const b = marker('t1');
    expect(await a.claimRepair('i1/a', 400)).toBe(true);
    expect(await b.claimRepair('i1/b', 400)).toBe(false);
    // Another process with the same instance id is another owner: it can neither extend nor free it.
    expect(await b.extendRepair('i1/b', 60_000)).toBe(false);
    await b.releaseRepair('i1/b');
    expect(await b.claimRepair('i1/b', 400)).toBe(false);
    // Extended by its holder, it outlives its first TTL.
    expect(await a.extendRepair('i1/a', 60_000)).toBe(true);
    await new Promise((r) => setTimeout(r, 600));
    expect(await b.claimRepair('i1/b', 400)).toBe(false);
    await a.releaseRepair('i1/a');
    expect(await b.claimRepair('i1/b', 400)).toBe(true);
    // Not extended, it lapses: a holder killed mid-repair does not block the fleet for long.
    await new Promise((r) => setTimeout(r, 600));
    expect(await a.extendRepair('i1/a', 60_000)).toBe(false);
    expect(await a.claimRepair('i1/a', 400)).toBe(true);
  });

  it('writes the marker for the lock holder only: a repairer whose lock lapsed writes nothing', async () => {
    const a = marker('t2');
    const b = marker('t2');
    expect(await a.claimRepair('i2/a', 60_000)).toBe(true);
    expect(await b.writeHoldingRepair('g-b', 'i2/b')).toBe(false);
    expect(await b.read()).toBe(null);
    expect(await a.writeHoldingRepair('g-a', 'i2/a')).toBe(true);
    expect(await b.read()).toBe('g-a');
    await a.releaseRepair('i2/a');
    expect(await a.writeHoldingRepair('g-a2', 'i2/a')).toBe(false);
    expect(await b.read()).toBe('g-a');
  });
});
