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
      if (op < 0.3) {
        ref.add(id);
        ids.add(id);
      } else if (op < 0.45) {
        expect(ids.addIfAbsent(id)).toBe(!ref.has(id));
        ref.add(id);
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

  it('keeps short ASCII ids packed and long or non-ASCII ones as strings, never mixing them up', () => {
    let seed = 11;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    // Lengths 0 to 10 around the 8-character packing limit, ASCII with NUL and DEL, and non-ASCII.
    const alphabet = ['a', 'b', '\u0000', '\u007f', '9', 'é', '\u0080'];
    const randomId = () => {
      const n = Math.floor(rand() * 11);
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[Math.floor(rand() * (i < 9 ? 5 : alphabet.length))];
      if (rand() < 0.1) s += alphabet[5 + Math.floor(rand() * 2)];
      return s;
    };
    const ref = new Set<string>();
    const ids = new EventIdSet(1);
    for (let i = 0; i < 40_000; i++) {
      const id = randomId();
      const op = rand();
      if (op < 0.5) {
        ref.add(id);
        ids.add(id);
      } else if (op < 0.75) {
        expect(ids.delete(id)).toBe(ref.delete(id));
      } else {
        expect(ids.has(id)).toBe(ref.has(id));
      }
      expect(ids.size).toBe(ref.size);
    }
    for (const id of ref) expect(ids.has(id)).toBe(true);
    const eight = new EventIdSet();
    eight.add('abcdefgh').add('abcdefghi').add('abcdefg\u0000');
    expect([eight.has('abcdefgh'), eight.has('abcdefghi'), eight.has('abcdefg\u0000')]).toEqual([
      true,
      true,
      true,
    ]);
    expect([eight.has('abcdefg'), eight.has('abcdefgh\u0000'), eight.has('abcdefgé')]).toEqual([
      false,
      false,
      false,
    ]);
  });
});
