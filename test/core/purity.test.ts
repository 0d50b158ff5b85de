import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The core takes time, randomness and state as arguments (STYLE.md rules 1-2). This scans its
 * source for anything that reads the clock, draws global randomness, sets timers, does I/O or
 * reaches into a shell.
 */
const FORBIDDEN: [RegExp, string][] = [
  [/Date\.now\s*\(/, 'reads the wall clock'],
  [/new Date\s*\(\s*\)/, 'reads the wall clock'],
  [/performance\.now|process\.hrtime/, 'reads a clock'],
  [/Math\.random\s*\(/, 'draws global randomness'],
  [/\bset(Timeout|Interval|Immediate)\s*\(/, 'sets a timer'],
  [/\bprocess\./, 'touches the process'],
  [/from\s+['"](node:)?(fs|net|http|https|child_process|dgram|worker_threads)(\/promises)?['"]/, 'does I/O'],
  [/from\s+['"](fastify|ioredis|ioredis-mock|seedrandom|@fastify\/[^'"]+)['"]/, 'imports a shell dependency'],
  [/from\s+['"]\.\.\/(server|sim|reports|bench|test)\b/, 'imports a shell'],
];

function coreFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? coreFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

function violations(source: string): string[] {
  const found: string[] = [];
  source.split('\n').forEach((line, i) => {
    if (/^\s*(\/\/|\*|\/\*)/.test(line)) return;
    for (const [re, why] of FORBIDDEN) if (re.test(line)) found.push(`${i + 1}: ${why}: ${line.trim()}`);
  });
  return found;
}

describe('core purity', () => {
  it('core/ reads no clock, draws no global randomness, sets no timer, does no I/O, imports no shell', () => {
    const files = coreFiles(join(import.meta.dirname, '../../core'));
    expect(files.length).toBeGreaterThan(5);
    const report = files.flatMap((f) => violations(readFileSync(f, 'utf8')).map((v) => `${f}:${v}`));
    expect(report).toEqual([]);
  });

  it.each([
    'const t = Date.now();',
    'const d = new Date();',
    'const r = Math.random();',
    'setTimeout(() => {}, 5);',
    "import { readFileSync } from 'node:fs';",
    "import Redis from 'ioredis';",
    "import { buildApp } from '../server/app';",
  ])('catches %s', (line) => {
    expect(violations(line)).not.toEqual([]);
  });

  it('lets a pure line through', () => {
    expect(violations('const day = dayWindowAt(zone, nowMs);')).toEqual([]);
  });
});
