import { CodedError } from '../core/errors';

/**
 * The one catalogue of error codes the server can answer with, modelled on Fastify's FST_ERR_*:
 * a stable code clients and alerts can key on, the HTTP status it maps to, and a class per
 * failure that carries a sentence a person can act on. Every 4xx/5xx body is
 * `{ error: { code, message } }` with a code from this list. Add new failures here, never inline.
 */
export const ERROR_CODES = {
  PACER_ERR_VALIDATION: 400,
  PACER_ERR_MALFORMED_JSON: 400,
  PACER_ERR_EMPTY_BODY: 400,
  PACER_ERR_INVALID_AMOUNT: 400,
  PACER_ERR_INVALID_CAMPAIGN: 400,
  PACER_ERR_CAMPAIGN_ID_MISMATCH: 400,
  // The event pipeline (server/events): a report range or an event time it cannot take.
  PACER_ERR_INVALID_RANGE: 400,
  PACER_ERR_EVENT_TIME: 400,
  PACER_ERR_UNAUTHORIZED: 401,
  PACER_ERR_ROUTE_NOT_FOUND: 404,
  PACER_ERR_UNKNOWN_CAMPAIGN: 404,
  PACER_ERR_CAMPAIGN_EXISTS: 409,
  PACER_ERR_TIME_ZONE_LOCKED: 409,
  PACER_ERR_BODY_TOO_LARGE: 413,
  PACER_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  PACER_ERR_INTERNAL: 500,
  PACER_ERR_STORE_UNAVAILABLE: 503,
  // Campaigns are still loading (a start with many campaigns, or while Redis is down): retry.
  PACER_ERR_NOT_READY: 503,
  PACER_ERR_FORBIDDEN: 403,
  PACER_ERR_URI_TOO_LONG: 414,
  PACER_ERR_HEADERS_TOO_LARGE: 431,
  PACER_ERR_BAD_REQUEST: 400,
  // The durable spend journal: a process cannot take spend safely without it.
  PACER_ERR_JOURNAL_IO: 500,
  PACER_ERR_JOURNAL_LOCKED: 500,
  // Never answered over HTTP: a bad config stops the process before it listens.
  PACER_ERR_CONFIG: 500,
  // Another live process holds this INSTANCE_ID in Redis: two would share (and overspend) its leases.
  PACER_ERR_INSTANCE_ID_IN_USE: 500,
  // PostgreSQL (the system of record) refused or could not take a registry change.
  PACER_ERR_RECORDS_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The HTTP status of a code from the catalogue, or undefined for any other code. */
export function statusOfCode(code: string | undefined): number | undefined {
  return code !== undefined && Object.hasOwn(ERROR_CODES, code) ? ERROR_CODES[code as ErrorCode] : undefined;
}

/** Base of every error the server raises on purpose. `statusCode` is what HTTP answers with. */
export class PacerError extends CodedError {
  declare readonly code: ErrorCode;
  readonly statusCode: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'PacerError';
    this.statusCode = ERROR_CODES[code];
  }
}

export class ValidationError extends PacerError {
  constructor(message: string) {
    super('PACER_ERR_VALIDATION', message);
    this.name = 'ValidationError';
  }
}

export class InvalidAmountError extends PacerError {
  constructor(field: string, value: number) {
    super(
      'PACER_ERR_INVALID_AMOUNT',
      `${field} ${value} is not a whole number of micros: send cents with at most 4 decimals, from 0 to 100000000000.`,
    );
    this.name = 'InvalidAmountError';
  }
}

export class InvalidCampaignError extends PacerError {
  constructor(
    message: string,
    readonly issues: readonly { path: string; code: string; message: string }[] = [],
  ) {
    super('PACER_ERR_INVALID_CAMPAIGN', message);
    this.name = 'InvalidCampaignError';
  }
}

export class CampaignIdMismatchError extends PacerError {
  constructor(pathId: string, bodyId: string) {
    super(
      'PACER_ERR_CAMPAIGN_ID_MISMATCH',
      `The body names campaign "${bodyId}" but the URL names "${pathId}"; send the same id in both or leave it out of the body.`,
    );
    this.name = 'CampaignIdMismatchError';
  }
}

export class UnauthorizedError extends PacerError {
  constructor() {
    super(
      'PACER_ERR_UNAUTHORIZED',
      'This route needs the header "Authorization: Bearer <API_KEY>" with the key the server was started with (read-only routes, the dashboard and the WebSocket also take API_READ_KEY, or ?key=<key> in the URL).',
    );
    this.name = 'UnauthorizedError';
  }
}

export class RouteNotFoundError extends PacerError {
  constructor(method: string, url: string) {
    super('PACER_ERR_ROUTE_NOT_FOUND', `There is no route ${method} ${url}; the list of routes is at /docs.`);
    this.name = 'RouteNotFoundError';
  }
}

/** One class for core and server (core throws it too); answered 404 by its code. */
export { UnknownCampaignError } from '../core/errors';

export class CampaignExistsError extends PacerError {
  constructor(readonly campaignId: string) {
    super(
      'PACER_ERR_CAMPAIGN_EXISTS',
      `Campaign "${campaignId}" already exists; change it with PUT /campaigns/${campaignId} or pick another id.`,
    );
    this.name = 'CampaignExistsError';
  }
}

export class TimeZoneLockedError extends PacerError {
  constructor(campaignId: string, from: string, to: string) {
    super(
      'PACER_ERR_TIME_ZONE_LOCKED',
      `Campaign "${campaignId}" paces its days in ${from}; its time zone cannot change to ${to} mid-flight. Create a new campaign for the new zone.`,
    );
    this.name = 'TimeZoneLockedError';
  }
}

export class StoreUnavailableHttpError extends PacerError {
  constructor(options?: { cause?: unknown }) {
    super(
      'PACER_ERR_STORE_UNAVAILABLE',
      'The shared budget store cannot be reached, so this change was not saved; retry when GET /health reports healthy.',
      options,
    );
    this.name = 'StoreUnavailableHttpError';
  }
}

/** Campaigns are not loaded yet, so an unknown id may still exist: the client should retry. */
export class NotReadyError extends PacerError {
  readonly retryAfterSeconds = 1;
  constructor(campaignId: string, why: 'loading' | 'unclaimed' = 'loading') {
    super(
      'PACER_ERR_NOT_READY',
      why === 'loading'
        ? `This instance has not loaded its campaigns yet (starting, or the store is unreachable), so it cannot tell whether campaign "${campaignId}" exists; retry after Retry-After seconds or on another instance.`
        : `This instance has not claimed its INSTANCE_ID in the store yet (it started while the store was unreachable), so it takes no win notices for campaign "${campaignId}" until it knows it is the only process with that id; retry after Retry-After seconds or on another instance.`,
    );
    this.name = 'NotReadyError';
  }
}

/** The key is valid for reading but this route changes state. */
export class ForbiddenError extends PacerError {
  constructor(why: string) {
    super('PACER_ERR_FORBIDDEN', why);
    this.name = 'ForbiddenError';
  }
}

/** Another live process claimed this instance id in Redis. */
export class InstanceIdInUseError extends PacerError {
  constructor(readonly instanceId: string) {
    super(
      'PACER_ERR_INSTANCE_ID_IN_USE',
      `INSTANCE_ID "${instanceId}" is held by another running server in Redis; two processes with one id would share its budget leases and overspend. Give each process its own INSTANCE_ID, or stop the other one.`,
    );
    this.name = 'InstanceIdInUseError';
  }
}

/** The spend journal could not be written or read: spend cannot be acknowledged as safe. */
export class JournalIoError extends PacerError {
  constructor(what: string, options?: { cause?: unknown }) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      'PACER_ERR_JOURNAL_IO',
      `${what}${detail}. Check that JOURNAL_DIR exists, is writable and has free space.`,
      options,
    );
    this.name = 'JournalIoError';
  }
}

/** Another live process holds this instance's journal: two writers would replay each other's records. */
export class JournalLockedError extends PacerError {
  constructor(
    readonly path: string,
    readonly holderPid: number,
  ) {
    super(
      'PACER_ERR_JOURNAL_LOCKED',
      `The journal ${path} is in use by process ${holderPid}; give each instance its own INSTANCE_ID or JOURNAL_DIR, or stop the other process.`,
    );
    this.name = 'JournalLockedError';
  }
}

/** Bad configuration at start: the process exits with CONFIG_EXIT_CODE and this message. */
export class ConfigError extends PacerError {
  constructor(readonly problems: readonly string[]) {
    super('PACER_ERR_CONFIG', `Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** sysexits.h EX_CONFIG: lets a supervisor tell a bad deployment from a crash. */
export const CONFIG_EXIT_CODE = 78;

/** PostgreSQL could not take a registry change: nothing was changed, retrying is safe. */
export class RecordsUnavailableError extends PacerError {
  constructor(options?: { cause?: unknown }) {
    const detail = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(
      'PACER_ERR_RECORDS_UNAVAILABLE',
      `PostgreSQL, the system of record, could not save this change${detail}. Nothing was changed; retry when GET /health shows records.postgres_healthy true.`,
      options,
    );
    this.name = 'RecordsUnavailableError';
  }
}
