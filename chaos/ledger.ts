/**
 * The client's own ledger: what it was told, by whom and when. The invariants are checked against
 * this, never against what the servers say about themselves.
 */

/** One server process: a slot (instance 0..N-1, or a duplicate-id process) and which start of it. */
export interface ProcessRef {
  readonly slot: number;
  readonly incarnation: number;
}

export function sameProcess(a: ProcessRef, b: ProcessRef): boolean {
  return a.slot === b.slot && a.incarnation === b.incarnation;
}

export type NoticeState = 'pending' | 'acked' | 'rejected';

export interface Notice {
  readonly eventId: string;
  readonly requestId: string;
  readonly campaignId: string;
  readonly chargeMicros: number;
  readonly decidedBy: ProcessRef;
  readonly decidedAtMs: number;
  state: NoticeState;
  ackedAtMs: number | null;
  ackedBy: ProcessRef | null;
  /**
   * Answers with counted: true and journaled: false, i.e. "Redis booked it now": more than one is a
   * double count the servers admitted to. (During an outage two instances may each journal the same
   * notice and say counted: true; replay then counts it once, which the Redis totals check.)
   */
  countedAnswers: number;
  /** Answers with counted: true and journaled: true. */
  journaledAnswers: number;
  /** Sends that got no answer (timeout, reset, 5xx): the server may or may not have booked them. */
  unknownOutcomes: number;
  attempts: number;
  journaled: boolean;
  rejection: { status: number; code: string } | null;
}

export class ClientLedger {
  private readonly byEvent = new Map<string, Notice>();
  decisions = 0;
  allowed = 0;
  decisionFailures = 0;
  duplicatesSent = 0;

  addNotice(
    n: Omit<
      Notice,
      | 'state'
      | 'ackedAtMs'
      | 'ackedBy'
      | 'countedAnswers'
      | 'journaledAnswers'
      | 'unknownOutcomes'
      | 'attempts'
      | 'journaled'
      | 'rejection'
    >,
  ): Notice {
    const notice: Notice = {
      ...n,
      state: 'pending',
      ackedAtMs: null,
      ackedBy: null,
      countedAnswers: 0,
      journaledAnswers: 0,
      unknownOutcomes: 0,
      attempts: 0,
      journaled: false,
      rejection: null,
    };
    this.byEvent.set(n.eventId, notice);
    return notice;
  }

  /** A 2xx answer: counted or duplicate, the notice is safe from here on. */
  ack(n: Notice, by: ProcessRef, atMs: number, counted: boolean, journaled: boolean): void {
    if (counted && !journaled) n.countedAnswers++;
    if (counted && journaled) n.journaledAnswers++;
    if (journaled) n.journaled = true;
    if (n.state === 'acked') return;
    n.state = 'acked';
    n.ackedAtMs = atMs;
    n.ackedBy = by;
  }

  /** A 4xx answer: an exchange treats it as final and drops the notice. */
  reject(n: Notice, status: number, code: string): void {
    if (n.state !== 'pending') return;
    n.state = 'rejected';
    n.rejection = { status, code };
  }

  notices(): Notice[] {
    return [...this.byEvent.values()];
  }

  pending(): Notice[] {
    return this.notices().filter((n) => n.state === 'pending');
  }
}
