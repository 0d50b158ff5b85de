import { dayWindowAt, hourIndex } from '../../core/dayWindow';
import type { PacingState } from '../../core/pacingState';
import type { Clock, Timers } from '../runtime/time';
import type { ActivityRow, HistoryRecords } from './historyRecords';

interface Counts {
  requests: number;
  allowed: number;
}

/**
 * Decisions seen and allowed per campaign, counted on the decision path (two additions) and
 * written to the hour rows in the background. Counts are attributed to the hour in which they are
 * drained (every `intervalMs`), so a decision near an hour's end may land in the next hour. Rows
 * PostgreSQL did not take are merged by campaign and hour and retried: memory stays bounded by
 * campaigns x hours of the outage, not by decisions.
 */
export class ActivityRecorder {
  private counts = new Map<string, Counts>();
  private readonly unwritten = new Map<string, ActivityRow>();
  private stopTimer: (() => void) | null = null;
  private writing: Promise<void> | null = null;

  constructor(
    private readonly o: {
      readonly history: HistoryRecords;
      readonly clock: Clock;
      readonly timers: Timers;
      readonly instanceId: string;
      readonly states: () => ReadonlyMap<string, PacingState>;
      readonly intervalMs?: number;
    },
  ) {}

  note(campaignId: string, allowed: boolean): void {
    let c = this.counts.get(campaignId);
    if (c === undefined) {
      c = { requests: 0, allowed: 0 };
      this.counts.set(campaignId, c);
    }
    c.requests++;
    if (allowed) c.allowed++;
  }

  start(): void {
    this.stopTimer ??= this.o.timers.every(this.o.intervalMs ?? 1_000, () => {
      void this.flush();
    });
  }

  /** Writes what was counted so far (and what earlier writes could not). */
  flush(): Promise<void> {
    this.writing ??= this.write().finally(() => {
      this.writing = null;
    });
    return this.writing;
  }

  private drain(): void {
    const nowMs = this.o.clock.nowMs();
    const states = this.o.states();
    const counts = this.counts;
    this.counts = new Map();
    for (const [campaignId, c] of counts) {
      const s = states.get(campaignId);
      if (s === undefined) continue;
      const day = dayWindowAt(s.campaign.timeZone, nowMs);
      const hour = hourIndex(day, nowMs);
      const key = `${campaignId}\u0000${day.key}\u0000${hour}`;
      const row = this.unwritten.get(key);
      this.unwritten.set(key, {
        campaignId,
        dayKey: day.key,
        hourIndex: hour,
        instanceId: this.o.instanceId,
        requests: (row?.requests ?? 0) + c.requests,
        allowed: (row?.allowed ?? 0) + c.allowed,
      });
    }
  }

  private async write(): Promise<void> {
    this.drain();
    if (this.unwritten.size === 0) return;
    const rows = [...this.unwritten.values()];
    try {
      await this.o.history.recordActivity(rows);
      this.unwritten.clear();
    } catch {
      // Kept in `unwritten`; the history writer reports the outage in /health.
    }
  }

  async close(): Promise<void> {
    this.stopTimer?.();
    this.stopTimer = null;
    await this.flush();
  }
}
