import type { SpendRecord } from './store';

/**
 * Where spend goes while the shared store is unreachable. `append` resolves only once the records
 * are safe (a file journal fsyncs); `confirm` drops the oldest records after the store took them.
 */
export interface SpendJournal {
  append(records: readonly SpendRecord[]): Promise<void>;
  /** Records appended and not yet confirmed, oldest first. */
  pending(): Promise<SpendRecord[]>;
  /** The store has applied (or deduplicated) the oldest `count` pending records. */
  confirm(count: number): Promise<void>;
}

/** A journal in memory: what the simulator uses, where a crash is not part of the model. */
export class MemoryJournal implements SpendJournal {
  private records: SpendRecord[] = [];

  async append(records: readonly SpendRecord[]): Promise<void> {
    for (const r of records) this.records.push(r);
  }

  async pending(): Promise<SpendRecord[]> {
    return [...this.records];
  }

  async confirm(count: number): Promise<void> {
    this.records = this.records.slice(count);
  }

  get size(): number {
    return this.records.length;
  }
}
