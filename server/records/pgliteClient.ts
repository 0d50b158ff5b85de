import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import type { SqlClient, SqlExecutor } from './sqlClient';

function executor(db: PGlite | Transaction): SqlExecutor {
  return {
    async query<T extends object>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
      return (await db.query<T>(sql, params as unknown[])).rows;
    },
    async exec(sql: string): Promise<void> {
      await db.exec(sql);
    },
  };
}

/**
 * PostgreSQL in-process (PGlite), its files under `dir`. Every statement writes through to those
 * files as it commits (PGlite mounts the directory directly), so a committed row survives kill -9.
 * One process per directory: two would corrupt it (see dataDirLock.ts).
 */
export async function pgliteClient(dir: string): Promise<SqlClient> {
  mkdirSync(dir, { recursive: true });
  const db = await PGlite.create(dir);
  const base = executor(db);
  return {
    kind: 'pglite',
    query: base.query,
    exec: base.exec,
    transaction: <T>(work: (tx: SqlExecutor) => Promise<T>) => db.transaction((tx) => work(executor(tx))),
    async close(): Promise<void> {
      await db.close();
    },
  };
}
