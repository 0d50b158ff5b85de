import pg from 'pg';

/**
 * A database of its own on the machine's shared PostgreSQL (127.0.0.1:5432, trust auth) for one
 * test file, dropped afterwards. Never touches any other database.
 */
export const SHARED_POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

async function admin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: SHARED_POSTGRES_URL });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

export async function createTestDatabase(tag: string): Promise<TestDatabase> {
  const name = `pacer_${tag}_${process.pid}_${Math.floor(Math.random() * 1e9).toString(36)}`.toLowerCase();
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(SHARED_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => undefined),
  };
}
