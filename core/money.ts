/**
 * Money is integer micros everywhere inside the project: 1 currency unit = 1,000,000 micros.
 * The HTTP API speaks cents; conversion happens only at the edge, through these functions.
 * Bids are CPM prices (per thousand impressions); one impression costs CPM / 1000.
 */
export const MICROS_PER_UNIT = 1_000_000;
export const MICROS_PER_CENT = 10_000;
export const IMPRESSIONS_PER_CPM = 1_000;

/** Largest amount the project accepts anywhere: 1e15 micros = one billion currency units. */
export const MAX_MICROS = 1_000_000_000_000_000;

export function isMicros(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= MAX_MICROS;
}

/**
 * Cents to micros. Fractional cents are accepted down to one micro (4 decimals), because a single
 * impression at a CPM price costs fractions of a cent; anything finer is rejected, not rounded.
 */
export function centsToMicros(cents: number): number {
  // Decided on the shortest decimal form of the number, the one JSON carried: at most 4 decimals.
  if (!Number.isFinite(cents) || !/^-?\d+(\.\d{1,4})?$/.test(String(cents))) {
    throw new RangeError(`${cents} cents is not a whole number of micros (at most 4 decimals)`);
  }
  const micros = Math.round(cents * MICROS_PER_CENT);
  if (!isMicros(micros)) throw new RangeError(`${cents} cents is outside 0..${MAX_MICROS / MICROS_PER_CENT}`);
  return micros;
}

/** Micros to cents for display; exact when the amount is whole cents, otherwise 4 decimals. */
export function microsToCents(micros: number): number {
  return micros / MICROS_PER_CENT;
}

/** Micros to whole cents, rounding down: what is reported as "remaining" never overstates it. */
export function microsToWholeCentsFloor(micros: number): number {
  return Math.floor(micros / MICROS_PER_CENT);
}

/** Cost of one impression bought at a CPM price, rounded up so a reservation never falls short. */
export function impressionCostMicros(cpmMicros: number): number {
  return Math.ceil(cpmMicros / IMPRESSIONS_PER_CPM);
}
