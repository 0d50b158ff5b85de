import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorCode } from '../../core/errors';
import { type ErrorCode, RouteNotFoundError, StoreUnavailableHttpError, statusOfCode } from '../errors';
import type { ErrorBodyJson } from './schemas';

/**
 * Maps every failure, ours and Fastify's own, onto `{error: {code, message}}` with a code from
 * server/errors.ts. Fastify's FST_ERR_* codes never reach a client: they name Fastify internals,
 * not what the client should do.
 */
const FASTIFY_CODES: Readonly<Record<string, readonly [ErrorCode, number, (e: FastifyError) => string]>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: [
    'PACER_ERR_MALFORMED_JSON',
    400,
    () => 'The request body is not valid JSON; check quotes, commas and brackets.',
  ],
  FST_ERR_CTP_EMPTY_JSON_BODY: [
    'PACER_ERR_EMPTY_BODY',
    400,
    () => 'The request says it carries JSON but the body is empty; send a JSON object.',
  ],
  FST_ERR_CTP_BODY_TOO_LARGE: [
    'PACER_ERR_BODY_TOO_LARGE',
    413,
    () => 'The request body is larger than this server accepts (BODY_LIMIT_BYTES); send a smaller body.',
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [
    'PACER_ERR_VALIDATION',
    400,
    () => 'The Content-Length header does not match the body sent.',
  ],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    'PACER_ERR_UNSUPPORTED_MEDIA_TYPE',
    415,
    () => 'Send the body as JSON with the header "Content-Type: application/json".',
  ],
};

export function errorBody(code: ErrorCode, message: string): ErrorBodyJson {
  return { error: { code, message } };
}

/** "body/bid_cents must be > 0" -> "bid_cents must be > 0 (see /docs for the request schema)." */
function validationMessage(err: FastifyError): string {
  const first = err.validation?.[0];
  if (first === undefined) return err.message;
  const where = err.validationContext ?? 'request';
  const path = first.instancePath.replace(/^\//, '').replaceAll('/', '.');
  const params = first.params as Record<string, unknown>;
  let what: string;
  if (first.keyword === 'required') what = `${where} needs the field "${String(params.missingProperty)}"`;
  else if (first.keyword === 'additionalProperties')
    what = `${where}${path ? `.${path}` : ''} has an unknown field "${String(params.additionalProperty)}"`;
  else if (first.keyword === 'enum')
    what = `${path || where} must be one of ${(params.allowedValues as unknown[]).join(', ')}`;
  else what = `${path || where} ${first.message ?? 'is invalid'}`;
  return `${what}; see /docs for the request schema.`;
}

export function installErrorHandlers(app: FastifyInstance, onServerError: (err: Error) => void): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (err.validation) {
      return reply.code(400).send(errorBody('PACER_ERR_VALIDATION', validationMessage(err)));
    }
    // Identified by code, never by class: core's errors and the server's share one catalogue.
    const code = errorCode(err);
    const status = statusOfCode(code);
    if (status !== undefined) {
      if (status >= 500) onServerError(err);
      const retryAfter = (err as { retryAfterSeconds?: number }).retryAfterSeconds;
      if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
      return reply.code(status).send(errorBody(code as ErrorCode, err.message));
    }
    if (code === 'STORE_UNAVAILABLE') {
      const mapped = new StoreUnavailableHttpError({ cause: err });
      onServerError(err);
      return reply.code(mapped.statusCode).send(errorBody(mapped.code, mapped.message));
    }
    const known = err.code === undefined ? undefined : FASTIFY_CODES[err.code];
    if (known !== undefined) {
      return reply.code(known[1]).send(errorBody(known[0], known[2](err)));
    }
    if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      // Any other client error Fastify raises (bad headers, bad URL encoding): keep its status.
      return reply.code(err.statusCode).send(errorBody('PACER_ERR_VALIDATION', `${err.message}.`));
    }
    // Logged once, by onServerError.
    onServerError(err);
    return reply
      .code(500)
      .send(
        errorBody(
          'PACER_ERR_INTERNAL',
          'The server failed to handle this request; it has been logged. Retry, and report it if it persists.',
        ),
      );
  });

  app.setNotFoundHandler((request, reply) => {
    const path = (request.url.split('?')[0] ?? '').slice(0, 200);
    const err = new RouteNotFoundError(request.method, path);
    return reply.code(err.statusCode).send(errorBody(err.code, err.message));
  });
}
