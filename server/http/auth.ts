import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { UnauthorizedError } from '../errors';

export type AuthHook = (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => void;

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * preHandler for routes that change state: with an API key configured they need
 * `Authorization: Bearer <key>`. Digests are compared in constant time, so neither the key's
 * length nor its prefix leaks through response timing.
 */
export function requireApiKey(apiKey: string | null): AuthHook | undefined {
  if (apiKey === null) return undefined;
  const expected = digest(apiKey);
  return (request, _reply, done) => {
    const header = request.headers.authorization;
    const match = header !== undefined && /^Bearer\s+(.+)$/i.exec(header);
    if (!match || !timingSafeEqual(digest(match[1]!.trim()), expected)) {
      done(new UnauthorizedError());
      return;
    }
    done();
  };
}
