import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const DEPCRUISE = join(ROOT, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');

/** Runs the project's dependency-cruiser rules on a tree; returns the rule names it broke. */
function brokenRules(cwd: string, dirs: string[]): string[] {
  const run = spawnSync(
    process.execPath,
    [DEPCRUISE, '--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json', ...dirs],
    { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const out = JSON.parse(run.stdout) as { summary: { violations: { rule: { name: string } }[] } };
  return [...new Set(out.summary.violations.map((v) => v.rule.name))].sort();
}

/** A throwaway tree shaped like the project, with the project's tsconfig, to plant violations in. */
function plantedTree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'layering-'));
  cpSync(join(ROOT, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

// The project itself is checked by `npm run depcheck` in .ci/run; this shows the rules bite.
describe('layering rules (npm run depcheck)', () => {
  it('catches each planted violation, dynamic imports and type-only imports included', () => {
    const dir = plantedTree({
      'core/ok.ts': 'export const x = 1;\n',
      'core/crypto.ts': "import { randomUUID } from 'node:crypto';\nexport const id = randomUUID();\n",
      'core/lazy.ts': "export const load = () => import('node:fs');\n",
      'core/shell.ts': "import type { Engine } from '../sim/engine';\nexport type E = Engine;\n",
      'sim/engine.ts': 'export interface Engine { n: number }\nexport const engine = 1;\n',
      'sim/run.ts': "import { report } from '../reports/report';\nexport const run = report;\n",
      'reports/report.ts': "import { engine } from '../sim/engine';\nexport const report = engine;\n",
      'sim/a.ts': "import { b } from './b';\nexport const a = () => b;\n",
      'sim/b.ts': "import { a } from './a';\nexport const b = () => a;\n",
    });
    expect(brokenRules(dir, ['core', 'sim', 'reports'])).toEqual([
      'core-does-no-io',
      'core-imports-no-shell',
      'no-circular',
      'reports-import-sim-types-only',
      'reports-read-results-not-the-engine',
      'sim-does-not-import-reports',
    ]);
  }, 120_000);
});
