import { MIGRATIONS, type Migration } from './migrations';
import { type SqlClient, int } from './sqlClient';

/** Any instance may start first: they queue on this lock instead of racing the same DDL. */
const MIGRATION_LOCK_KEY = 72_690_901;

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly version: number | null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'MigrationError';
  }
}

/**
 * Applies the migrations the database has not seen, all in one transaction: one that fails rolls
 * back every one before it too, so a failed start leaves the database exactly as it found it.
 * Returns the versions applied now.
 */
export async function migrate(
  db: SqlClient,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const rows = await tx.query<{ version: unknown }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => int(r.version)));
    const newest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    const ahead = [...done].filter((v) => v > newest);
    if (ahead.length > 0) {
      throw new MigrationError(
        `the database has schema version ${Math.max(...ahead)}, newer than this server knows (${newest}); run the newer server or restore a matching database`,
        Math.max(...ahead),
      );
    }
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      try {
        await tx.exec(m.sql);
        await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      } catch (err) {
        const detail = err instanceof Error ? err.message : String(err);
        throw new MigrationError(`migration ${m.version} (${m.name}) failed: ${detail}`, m.version, {
          cause: err,
        });
      }
      applied.push(m.version);
    }
    return applied;
  });
}
