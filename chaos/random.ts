/**
 * Seeded randomness for the fault harness. Every draw of a run comes from its seed and a stream
 * name, so the fault schedule and each auction's plan are fixed by the seed alone, whatever order
 * the real processes make things happen in.
 */
import { hash32 } from '../server/runtime/random';

export { hash32 };
export type Rand = () => number;

/** mulberry32 seeded by the seed and a stream name: independent streams for independent choices. */
export function streamRand(seed: number, stream: string): Rand {
  let a = hash32(`${seed}:${stream}`);
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A whole number in [min, max]. */
export function intBetween(rand: Rand, min: number, max: number): number {
  return min + Math.floor(rand() * (max - min + 1));
}

export function pick<T>(rand: Rand, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}
