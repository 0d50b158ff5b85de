import pg from 'pg';
import type { SqlClient, SqlExecutor } from './sqlClient';

export interface PgClientOptions {
  readonly url: string;
  readonly connectTimeoutMs?: number;
  /** A statement that runs longer fails: the history writer retries, a write route answers 503. */
  readonly statementTimeoutMs?: number;
  readonly maxConnections?: number;
}

function executor(q: pg.Pool | pg.PoolClient): SqlExecutor {
  return {
    async query<T extends object>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      const res = await q.query(sql, params as unknown[]);
      return res.rows as T[];
    },
    async exec(sql: string): Promise<void> {
      await q.query(sql);
    },
  };
}

/** PostgreSQL through a small `pg` pool. */
export function pgClient(opts: PgClientOptions): SqlClient {
  const pool = new pg.Pool({
    connectionString: opts.url,
    max: opts.maxConnections ?? 4,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 3_000,
    query_timeout: opts.statementTimeoutMs ?? 10_000,
    idleTimeoutMillis: 30_000,
  });
  // A server that goes away kills idle clients; without a listener that error would crash the process.
  pool.on('error', () => {});
  const base = executor(pool);
  return {
    kind: 'postgres',
    query: base.query,
    exec: base.exec,
    async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const out = await work(executor(client));
        await client.query('COMMIT');
        return out;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async close(): Promise<void> {
      await pool.end();
    },
  };
}
