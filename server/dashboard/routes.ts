import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';

const PAGE = readFileSync(new URL('./index.html', import.meta.url), 'utf8');

function inlineHashes(tag: 'script' | 'style'): string {
  const re = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  return [...PAGE.matchAll(re)]
    .map((m) => `'sha256-${createHash('sha256').update(m[1]!).digest('base64')}'`)
    .join(' ');
}

/**
 * The page runs only its own inline code, named by hash: no CDN, no third-party script, and an
 * injected script would not run. It talks only to this origin (its WebSocket).
 */
const CSP = [
  "default-src 'none'",
  `script-src ${inlineHashes('script')}`,
  `style-src ${inlineHashes('style')}`,
  "connect-src 'self'",
  // The empty data: icon stops the browser asking for /favicon.ico.
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** GET /dashboard: a self-contained live view of campaigns, fed by WS /ws/budget-updates. */
export function dashboardRoutes(app: FastifyInstance): void {
  app.get('/dashboard', { schema: { hide: true } }, async (_request, reply) => {
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-cache');
    return PAGE;
  });
}
