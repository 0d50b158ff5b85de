import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Metafile, build } from 'esbuild';

/**
 * Bundles the server to plain JavaScript for production: `node dist/server.mjs` instead of
 * `tsx server/main.ts`, which pays for tsx's loader thread and transpiler (about 30 MB of RSS
 * with 10,000 campaigns, and slower start-up). Dependencies stay in node_modules (not bundled),
 * so the image ships `dist/` next to a production `npm ci --omit=dev`.
 *
 *   tsx server/build.ts [entry] [outfile]    (defaults: server/main.ts dist/server.mjs)
 *
 * bench/server-load.ts builds its child the same way through `bundleServer`.
 */
export async function bundleServer(entry: string, outfile: string): Promise<Metafile> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    outfile,
    logLevel: 'warning',
    // What went in and what stays external: test/deploy/container.test.ts checks both against the
    // Dockerfile and the production dependencies.
    metafile: true,
  });
  // The dashboard reads its page next to its module, which in the bundle is the output file.
  mkdirSync(dirname(outfile), { recursive: true });
  copyFileSync('server/dashboard/index.html', join(dirname(outfile), 'index.html'));
  return result.metafile;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [entry = 'server/main.ts', outfile = 'dist/server.mjs'] = process.argv.slice(2);
  await bundleServer(entry, outfile);
  process.stdout.write(`built ${outfile} from ${entry}\n`);
}
