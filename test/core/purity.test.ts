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
  // Any use of `performance` reads a clock (now, timeOrigin, mark); `crypto` draws randomness.
  [/\bperformance\b|process\.hrtime/, 'reads a clock'],
  [/\bcrypto\b/, 'draws global randomness'],
  [/Math\.random\s*\(/, 'draws global randomness'],
  [/\bset(Timeout|Interval|Immediate)\s*\(/, 'sets a timer'],
  [/\bprocess\./, 'touches the process'],
  // Imports of Node modules and packages are dependency-cruiser's (npm run depcheck); these lines
  // catch the ones a reader would miss, and the globals no import graph shows.
  [
    /from\s+['"](node:)?(fs|net|http|https|child_process|dgram|worker_threads|crypto|timers|os)(\/promises)?['"]/,
    'does I/O',
  ],
  [/\bimport\s*\(|\brequire\s*\(/, 'loads a module at run time'],
  [/\bglobalThis\b/, 'reaches into the global scope'],
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
    "import { randomUUID } from 'node:crypto';",
    'const id = crypto.randomUUID();',
    'const t0 = performance.timeOrigin;',
    "const fs = await import('node:fs');",
    'const t = globalThis.Date.now;',
  ])('catches %s', (line) => {
    expect(violations(line)).not.toEqual([]);
  });

  it('lets a pure line through', () => {
    expect(violations('const day = dayWindowAt(zone, nowMs);')).toEqual([]);
  });
});
