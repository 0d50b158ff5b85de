import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { bundleServer } from '../server/build';

/**
 * The server as the harness runs it: bundled once per harness process from the current
 * server/main.ts with the production build, then started with `node` like `npm start`. Starting
 * three tsx processes per run cost about 20 s of a contended machine's CPU; the bundle starts in a
 * fraction of that, and it is the code that ships.
 */
const ROOT = join(import.meta.dirname, '..');
let built: Promise<string[]> | undefined;

/** node's arguments to start the bundled server. */
export function serverNodeArgs(): Promise<string[]> {
  built ??= (async () => {
    // One bundle per harness process: two harnesses running side by side must not overwrite each other's.
    const outfile = join(ROOT, 'out', 'chaos', `server-${process.pid}.mjs`);
    process.once('exit', () => {
      rmSync(outfile, { force: true });
      rmSync(`${outfile}.map`, { force: true });
    });
    const cwd = process.cwd();
    // bundleServer copies the dashboard page by a path relative to the repository root.
    process.chdir(ROOT);
    try {
      await bundleServer(join(ROOT, 'server', 'main.ts'), outfile);
    } finally {
      process.chdir(cwd);
    }
    return ['--max-semi-space-size=8', outfile];
  })();
  return built;
}
