import http from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../errors';
import { errorBody } from './errorHandler';

/**
 * Errors raised before a request reaches a route: by Node's HTTP parser (header overflow, a bad
 * Content-Length) or by Fastify's router (a URL that does not decode, a path parameter past
 * `maxParamLength`). Both bypass the error handler, so without these they answered in Node's or
 * Fastify's own shape instead of `{error: {code: PACER_ERR_*, message}}`.
 */
const PARSER_ERRORS: Readonly<Record<string, readonly [number, ErrorCode, string]>> = {
  HPE_HEADER_OVERFLOW: [
    431,
    'PACER_ERR_HEADERS_TOO_LARGE',
    'The request headers (or the URL) are larger than this server accepts; send fewer or shorter headers.',
  ],
  ERR_HTTP_REQUEST_TIMEOUT: [
    408,
    'PACER_ERR_BAD_REQUEST',
    'The request took too long to arrive; send it again in one go.',
  ],
};

const GENERIC_PARSER_ERROR = [
  400,
  'PACER_ERR_BAD_REQUEST',
  'The request is not valid HTTP/1.1 (check Content-Length, Transfer-Encoding and header syntax).',
] as const;

/** Fastify's `clientErrorHandler`: answers on the raw socket, then closes it (the stream is unusable). */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] = (err.code !== undefined && PARSER_ERRORS[err.code]) || GENERIC_PARSER_ERROR;
  const body = JSON.stringify(errorBody(code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Fastify's `frameworkErrors`: router failures, answered in the API's shape. */
export function frameworkErrors(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    reply
      .code(414)
      .send(
        errorBody(
          'PACER_ERR_URI_TOO_LONG',
          'A path segment is longer than any id this server holds (campaign ids run to 128 characters); check the URL.',
        ),
      );
    return;
  }
  if (err.code === 'FST_ERR_BAD_URL') {
    reply
      .code(400)
      .send(
        errorBody(
          'PACER_ERR_BAD_REQUEST',
          'The URL does not decode (a stray "%"?); percent-encode it properly.',
        ),
      );
    return;
  }
  reply
    .code(400)
    .send(errorBody('PACER_ERR_BAD_REQUEST', 'The request could not be routed; check the URL and headers.'));
}
