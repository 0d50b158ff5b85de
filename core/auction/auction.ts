/**
 * The auction among campaigns the pacer allowed for one impression: highest expected value wins.
 * Expected value is the CPM the pacer lets the campaign offer times the request's value signal
 * for that campaign (a predicted CTR or a value score). A campaign the request gives no signal
 * for is ranked with the mean of the signals it does give (a neutral prior: neither favoured nor
 * buried); when the request gives none at all, the price alone ranks. Ties go to the earlier
 * entry, so the order of the candidates (campaign id order in the server) settles them and a
 * run replays exactly.
 */
export interface AuctionEntry {
  readonly priceMicros: number;
  /** The value signal for this campaign, -1 when the request carries none for it. */
  readonly value: number;
}

/** The mean of the signals given, or -1 when none is. */
export function neutralValue(entries: readonly AuctionEntry[]): number {
  let sum = 0;
  let n = 0;
  for (const e of entries) {
    if (e.value >= 0) {
      sum += e.value;
      n++;
    }
  }
  return n === 0 ? -1 : sum / n;
}

export function expectedValue(e: AuctionEntry, neutral: number): number {
  if (neutral < 0) return e.priceMicros;
  return e.priceMicros * (e.value >= 0 ? e.value : neutral);
}

/** Positions of `entries` from best to worst expected value; ties keep their order. */
export function rankByExpectedValue(entries: readonly AuctionEntry[]): number[] {
  const neutral = neutralValue(entries);
  const ev = entries.map((e) => expectedValue(e, neutral));
  return entries.map((_, i) => i).sort((a, b) => ev[b]! - ev[a]! || a - b);
}
