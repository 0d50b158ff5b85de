import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../core/memoryStore';

const ref = { campaignId: 'c1', dayKey: '2024-03-15' };
const spend = (eventId: string, instanceId: string, spendMicros: number, hourIndex = 3) => ({
  eventId,
  campaignId: 'c1',
  dayKey: '2024-03-15',
  hourIndex,
  spendMicros,
  instanceId,
});

describe('MemoryStore snapshots', () => {
  it('keep the values of when they were read, however the row changes later', async () => {
    const store = new MemoryStore();
    await store.applySpend([spend('a', 'i1', 100)]);
    await store.acquireLeases([{ ...ref, instanceId: 'i1', requestMicros: 500, budgetMicros: 10_000 }]);
    const [first] = await store.readDays([ref]);
    const [same] = await store.readDays([ref]);
    await store.applySpend([spend('b', 'i2', 7, 4)]);
    await store.acquireLeases([{ ...ref, instanceId: 'i2', requestMicros: 300, budgetMicros: 10_000 }]);
    await store.returnLease(ref, 'i1', 200);
    const [after] = await store.readDays([ref]);
    for (const s of [first!, same!]) {
      expect(s.spentMicros).toBe(100);
      expect(s.spentByInstance).toEqual({ i1: 100 });
      expect(s.leasedByInstance).toEqual({ i1: 500 });
      expect(s.hourSpentMicros[3]).toBe(100);
      expect(s.hourSpentMicros[4]).toBe(0);
    }
    expect(after!.spentByInstance).toEqual({ i1: 100, i2: 7 });
    expect(after!.leasedByInstance).toEqual({ i1: 300, i2: 300 });
    expect(after!.hourSpentMicros[4]).toBe(7);
    // Shared between snapshots of an unchanged row, so nobody may change them.
    expect(Object.isFrozen(first!.spentByInstance)).toBe(true);
    expect(Object.isFrozen(first!.hourSpentMicros)).toBe(true);
  });

  it('keep an instance id such as __proto__ as a plain key', async () => {
    const store = new MemoryStore();
    await store.applySpend([spend('a', '__proto__', 42)]);
    const [s] = await store.readDays([ref]);
    expect(Object.keys(s!.spentByInstance)).toEqual(['__proto__']);
    expect(s!.spentByInstance['__proto__']).toBe(42);
    expect(Object.getPrototypeOf(s!.spentByInstance)).toBe(Object.prototype);
  });
});
