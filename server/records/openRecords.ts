import { join } from 'node:path';
import { CampaignRecords } from './campaignRecords';
import { HistoryRecords } from './historyRecords';
import { migrate } from './migrate';
import type { Migration } from './migrations';
import { pgClient } from './pgClient';
import { pgliteClient } from './pgliteClient';
import { RedisGenerations } from './redisGenerations';
import type { SqlClient } from './sqlClient';

/** The records layer: one SQL client (PostgreSQL or PGlite) and what is stored through it. */
export interface Records {
  readonly db: SqlClient;
  readonly campaigns: CampaignRecords;
  readonly history: HistoryRecords;
  readonly generations: RedisGenerations;
  /** Where the data lives, for the start-up log line (no credentials). */
  readonly where: string;
  close(): Promise<void>;
}

/** The database could not be reached or migrated: the server must not start on it. */
export class RecordsStartError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RecordsStartError';
  }
}

function redacted(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable DATABASE_URL)';
  }
}

export function recordsOn(db: SqlClient, where: string): Records {
  return {
    db,
    campaigns: new CampaignRecords(db),
    history: new HistoryRecords(db),
    generations: new RedisGenerations(db),
    where,
    close: () => db.close(),
  };
}

/**
 * Connects (PostgreSQL at `databaseUrl`, else PGlite under `dataDir/pglite`) and applies pending
 * migrations. Fails with a RecordsStartError that says what to fix; a failed migration has
 * changed nothing (see migrate.ts).
 */
export async function openRecords(opts: {
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  readonly migrations?: readonly Migration[];
}): Promise<Records> {
  let db: SqlClient;
  let where: string;
  if (opts.databaseUrl !== null) {
    where = redacted(opts.databaseUrl);
    db = pgClient({ url: opts.databaseUrl });
    try {
      await db.query('SELECT 1');
    } catch (err) {
      await db.close().catch(() => undefined);
      const detail = err instanceof Error ? err.message : String(err);
      throw new RecordsStartError(
        `cannot connect to PostgreSQL at ${where}: ${detail}. Check DATABASE_URL (host, port, user, password, database) and that the server is up; unset it to run on PGlite under DATA_DIR.`,
        { cause: err },
      );
    }
  } else {
    where = join(opts.dataDir, 'pglite');
    try {
      db = await pgliteClient(where);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      throw new RecordsStartError(
        `cannot open the embedded database (PGlite) in ${where}: ${detail}. Check that DATA_DIR is writable and not used by another process.`,
        { cause: err },
      );
    }
  }
  try {
    await migrate(db, opts.migrations);
  } catch (err) {
    await db.close().catch(() => undefined);
    const detail = err instanceof Error ? err.message : String(err);
    throw new RecordsStartError(
      `database migration failed on ${where}, nothing was changed: ${detail}. Fix the database (or restore it) and start again.`,
      { cause: err },
    );
  }
  return recordsOn(db, where);
}
