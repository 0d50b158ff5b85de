import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type TestDatabase, createTestDatabase } from '../support/postgresDatabase';
import { freePort } from '../support/redisServer';

/**
 * A database the server cannot use stops it before it listens, with exit code 78 (EX_CONFIG), a
 * message that says what to fix, and nothing changed: no journal dir, no half-applied schema.
 */
const ROOT = join(import.meta.dirname, '..', '..');
const dirs: string[] = [];
const dbs: TestDatabase[] = [];

afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const db of dbs) await db.drop();
});

async function runServer(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'main.ts')], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d.toString();
  });
  child.stdout.on('data', (d) => {
    stderr += d.toString();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stderr };
}

describe('server start-up on a database it cannot use', () => {
  it('exits 78 when DATABASE_URL does not connect, and creates nothing', async () => {
    const root = mkdtempSync(join(tmpdir(), 'pacer-badurl-'));
    dirs.push(root);
    const closed = await freePort();
    const { code, stderr } = await runServer({
      DATABASE_URL: `postgres://postgres@127.0.0.1:${closed}/nothing`,
      JOURNAL_DIR: join(root, 'journal'),
      DATA_DIR: join(root, 'data'),
    });
    expect(code, stderr).toBe(78);
    expect(stderr).toMatch(/cannot connect to PostgreSQL at postgres:\/\/postgres@127\.0\.0\.1:\d+\/nothing/);
    expect(stderr).toMatch(/Check DATABASE_URL/);
    expect(existsSync(join(root, 'journal'))).toBe(false);
    expect(existsSync(join(root, 'data'))).toBe(false);
  }, 90_000);

  it('exits 78 when a migration fails, leaving the database as it was', async () => {
    const db = await createTestDatabase('badmigration');
    dbs.push(db);
    const root = mkdtempSync(join(tmpdir(), 'pacer-badmig-'));
    dirs.push(root);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      // Something already owns the name migration 2 needs.
      await client.query('CREATE TABLE spend_events (note text)');
      const { code, stderr } = await runServer({ DATABASE_URL: db.url, JOURNAL_DIR: join(root, 'journal') });
      expect(code, stderr).toBe(78);
      expect(stderr).toMatch(/migration 2 \(.*\) failed: relation "spend_events" already exists/);
      expect(stderr).toMatch(/nothing was changed/);
      const tables = await client.query<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
      );
      expect(tables.rows.map((r) => r.table_name)).toEqual(['spend_events']);
      expect(existsSync(join(root, 'journal'))).toBe(false);
    } finally {
      await client.end();
    }
  }, 90_000);
});
