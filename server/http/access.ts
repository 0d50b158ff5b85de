import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenError, UnauthorizedError } from '../errors';

/**
 * Who may call a route when API_KEY is set:
 *   public  /health*, /metrics and /docs: probes, scrapers and the API's documentation, no data;
 *   read    GET routes, the dashboard and the WebSocket: API_KEY or API_READ_KEY;
 *   write   everything else, decisions included (a decision reserves budget): API_KEY only.
 * A route may say so in its config (`config: { access }`); otherwise GET is read, the rest write.
 */
export type Access = 'public' | 'read' | 'write';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}

export interface AccessKeys {
  readonly apiKey: string | null;
  readonly readKey: string | null;
}

const PUBLIC_PREFIXES = ['/health', '/metrics', '/docs'];

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Digests compared in constant time: neither a key's length nor its prefix leaks through timing. */
function matches(token: string, expected: Buffer | null): boolean {
  return expected !== null && timingSafeEqual(digest(token), expected);
}

function accessOf(url: string, method: string | string[], configured: Access | undefined): Access {
  if (configured !== undefined) return configured;
  if (PUBLIC_PREFIXES.some((p) => url === p || url.startsWith(`${p}/`))) return 'public';
  const methods = Array.isArray(method) ? method : [method];
  return methods.every((m) => m === 'GET' || m === 'HEAD') ? 'read' : 'write';
}

/** The bearer token, or for read access the `key` query parameter (a browser's WebSocket cannot send headers). */
function tokenOf(request: FastifyRequest, access: Access): string | null {
  const header = request.headers.authorization;
  const bearer = header !== undefined ? /^Bearer\s+(.+)$/i.exec(header) : null;
  if (bearer) return bearer[1]!.trim();
  if (access !== 'read') return null;
  const key = (request.query as Record<string, unknown> | undefined)?.key;
  return typeof key === 'string' && key.length > 0 ? key : null;
}

/**
 * Installs access control before any route is added: every route gets its access level (and its
 * OpenAPI `security` when it needs a key), and one onRequest hook checks the key before the body
 * is even read, so an unauthenticated caller reserves nothing and learns nothing.
 */
export function installAccessControl(app: FastifyInstance, keys: AccessKeys): void {
  const writeKey = keys.apiKey === null ? null : digest(keys.apiKey);
  const readKey = keys.readKey === null ? null : digest(keys.readKey);
  app.addHook('onRoute', (route) => {
    const access = accessOf(route.url, route.method, route.config?.access);
    route.config = { ...(route.config ?? {}), access };
    if (access !== 'public' && writeKey !== null && route.schema !== undefined && !route.schema.hide) {
      route.schema = { ...route.schema, security: [{ apiKey: [] }] };
    }
  });
  if (writeKey === null) return;
  app.addHook('onRequest', (request, _reply, done) => {
    const access = request.routeOptions.config.access ?? 'write';
    if (access === 'public') return done();
    const token = tokenOf(request, access);
    if (token !== null && matches(token, writeKey)) return done();
    if (token !== null && matches(token, readKey)) {
      if (access === 'read') return done();
      return done(new ForbiddenError('This key may only read; this route changes state and needs API_KEY.'));
    }
    done(new UnauthorizedError());
  });
}

/**
 * A browser page of another site may open a WebSocket to this server with the user's network
 * position: refuse upgrades whose Origin is not this server.
 */
export function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
