/** One auction may decide for many campaigns under one request id: a hold is per both. */
function holdKey(requestId: string, campaignId: string): string {
  return `${requestId}\u0000${campaignId}`;
}

/**
 * Which reservation a request id holds for a campaign, so the win notice that carries the id releases exactly
 * that reservation instead of leaving it to expire. Bounded: past `capacity` the oldest entries
 * are forgotten (their reservations still expire in the ledger after the TTL, so forgetting one
 * only holds budget a little longer; it never frees budget twice).
 */
export interface HeldReservation {
  readonly campaignId: string;
  readonly reservedMicros: number;
  readonly reservedAtMs: number;
}

export class RequestReservations {
  private readonly byRequest = new Map<string, HeldReservation>();

  constructor(private readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('reservation map capacity must be >= 1');
  }

  hold(requestId: string, r: HeldReservation): void {
    const key = holdKey(requestId, r.campaignId);
    // Re-insert so a re-used id counts as the newest.
    this.byRequest.delete(key);
    this.byRequest.set(key, r);
    if (this.byRequest.size > this.capacity) {
      const oldest = this.byRequest.keys().next().value as string;
      this.byRequest.delete(oldest);
    }
  }

  /** Removes and returns the reservation `requestId` holds for `campaignId`, if it is still held. */
  take(requestId: string, campaignId: string): HeldReservation | undefined {
    const key = holdKey(requestId, campaignId);
    const r = this.byRequest.get(key);
    if (r !== undefined) this.byRequest.delete(key);
    return r;
  }

  /** Drops entries older than the TTL: the ledger expired their reservations already. */
  expire(nowMs: number, ttlMs: number): void {
    for (const [id, r] of this.byRequest) {
      // Insertion order is reservation order (the clock never runs backwards), so stop at the first live one.
      if (nowMs - r.reservedAtMs < ttlMs) return;
      this.byRequest.delete(id);
    }
  }

  get size(): number {
    return this.byRequest.size;
  }
}
