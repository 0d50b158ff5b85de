import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundleServer } from '../../server/build';
import { ROOT } from '../support/deployFiles';

/**
 * No Docker engine runs here, so the image is kept honest by checking what it is made of: the
 * bundle the build stage makes (the same `npm run build`), the sources the build stage copies,
 * and the packages the run stage installs (`npm ci --omit=dev`). .ci/run then runs that bundle
 * beside a production-only install, as the image would.
 */
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
/** The stages of the Dockerfile, split at each FROM, comments dropped. */
const stages = dockerfile
  .split('\n')
  .filter((l) => !l.trimStart().startsWith('#'))
  .join('\n')
  .replace(/\\\n/g, ' ')
  .split(/^FROM /m)
  .slice(1);
const buildStage = stages[0] ?? '';
const runStage = stages.at(-1) ?? '';

const outDir = mkdtempSync(join(tmpdir(), 'pacer-bundle-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

describe('the image and npm start', () => {
  it('bundle only sources the build stage copies, and import only production dependencies', async () => {
    const meta = await bundleServer(join(ROOT, 'server', 'main.ts'), join(outDir, 'server.mjs'));
    const copied = [...buildStage.matchAll(/^COPY (?!--from)(\S+) /gm)].map((m) => m[1]!);
    const inputs = Object.keys(meta.inputs).map((f) => relative(ROOT, join(process.cwd(), f)));
    expect(inputs.length).toBeGreaterThan(20);
    expect(inputs.filter((f) => !copied.some((c) => f.startsWith(`${c}/`)))).toEqual([]);

    const externals = new Set(
      Object.values(meta.outputs)
        .flatMap((o) => o.imports)
        .filter((i) => i.external)
        .map((i) => i.path)
        .filter((p) => !p.startsWith('node:') && !builtinModules.includes(p))
        .map(packageName),
    );
    expect(externals.size).toBeGreaterThan(3);
    expect([...externals].filter((p) => pkg.dependencies[p] === undefined)).toEqual([]);
  });

  it('npm start runs the bundle with node alone; building is a separate step', () => {
    expect(pkg.scripts.start).toMatch(/^node .*dist\/server\.mjs$/);
    const devTools = Object.keys(pkg.devDependencies).concat(['tsx']);
    for (const script of [pkg.scripts.start!, pkg.scripts.prestart ?? '']) {
      expect(devTools.filter((tool) => script.includes(tool))).toEqual([]);
      // The prestart check may name the build in its message; it must not run it.
      expect(script).not.toMatch(/(^|&&|;|\|\|)\s*npm run build/);
    }
    expect(pkg.scripts.build).toContain('server/build.ts');
  });

  it('Dockerfile: builds with dev dependencies, runs production ones as a non-root user with a health check', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(buildStage).toMatch(/RUN npm ci\b(?!.*--omit=dev)/);
    expect(buildStage).toMatch(/RUN npm run build/);
    expect(runStage).toMatch(/RUN npm ci --omit=dev/);
    expect(runStage).toMatch(/COPY --from=\S+ \/app\/dist \.\/dist/);
    expect(runStage).not.toMatch(/tsx|esbuild|npm run build/);
    const user = /^USER (\S+)/m.exec(runStage)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0']).not.toContain(user);
    expect(runStage).toMatch(/^HEALTHCHECK .*\/health\/ready/m);
    // The same command and flags as `npm start`, with node as PID 1 to receive SIGTERM.
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(runStage)![1]!) as string[];
    expect(cmd.join(' ')).toBe(pkg.scripts.start);
    const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', 'out']));
  });
});
