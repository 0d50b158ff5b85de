import { describe, expect, it } from 'vitest';
import { EventIdSet } from '../../core/eventIdSet';

describe('EventIdSet', () => {
  it('answers has/add/delete/size as a Set<string> does, through growth and deletions (seed 7)', () => {
    let seed = 7;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    const ref = new Set<string>();
    const ids = new EventIdSet(1);
    for (let i = 0; i < 60_000; i++) {
      const id = `e${Math.floor(rand() * 3000)}`;
      const op = rand();
      if (op < 0.45) {
        ref.add(id);
        ids.add(id);
      } else if (op < 0.8) {
        expect(ids.delete(id)).toBe(ref.delete(id));
      } else {
        expect(ids.has(id)).toBe(ref.has(id));
      }
      expect(ids.size).toBe(ref.size);
    }
    for (let k = 0; k < 3100; k++) expect(ids.has(`e${k}`)).toBe(ref.has(`e${k}`));
  });

  it('tells apart ids that differ only late or in length', () => {
    const ids = new EventIdSet();
    ids.add('w1').add('w10').add('');
    expect(ids.has('w1')).toBe(true);
    expect(ids.has('w10')).toBe(true);
    expect(ids.has('')).toBe(true);
    expect(ids.has('w100')).toBe(false);
    expect(ids.has('w')).toBe(false);
  });
});
