/**
 * The one SQL surface the records layer talks to, over either PostgreSQL (`pg`) or PGlite
 * (PostgreSQL compiled to WASM, in-process): the same SQL, the same migrations, the same tests.
 * Integers come back as whatever the driver gives (pg: strings for BIGINT); callers convert.
 */
export interface SqlExecutor {
  query<T extends object>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface SqlClient extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** BIGINT and COUNT come back as strings from pg and as numbers from PGlite. */
export function int(v: unknown): number {
  if (v === null || v === undefined) return 0;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isSafeInteger(n)) throw new RangeError(`expected a safe integer from SQL, got ${String(v)}`);
  return n;
}
