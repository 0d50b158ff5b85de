import type { Rand } from '../../core/index';

/**
 * Decision randomness for the server. A request id gives a draw derived from the id alone, so the
 * decision for that request can be replayed; without one, a fast seeded generator.
 */

/** FNV-1a over UTF-16 code units, then a murmur3 finaliser: a 32-bit hash of any text. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** `hash32` spread over [0, 1): similar ids land far apart. */
export function hashUnit(text: string): number {
  return hash32(text) / 4_294_967_296;
}

/** A Rand that returns the request id's hash: decide draws at most once per request. */
export function requestRand(requestId: string, campaignId: string): Rand {
  // The campaign is part of the hash: candidates of one auction must not share one coin flip.
  const u = hashUnit(`${requestId}\u0000${campaignId}`);
  return () => u;
}

/** mulberry32: one multiply-xorshift step per draw; plenty for throttling coin flips. */
export function seededRand(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
