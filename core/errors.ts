/**
 * The one base of every error raised on purpose, in core and in both shells (undici's
 * `UND_ERR_*` classes are the model): a stable `code` that callers, exit codes and HTTP statuses
 * key on. Code, never the class name or `instanceof`, identifies an error, because a class does
 * not survive a worker thread or a process boundary and a code does (see `fromWire`).
 */
export class CodedError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'CodedError';
  }
}

/** The code of any thrown value that carries one (ours, Node's `ERR_*`, Fastify's `FST_ERR_*`). */
export function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/** What crosses a thread or process boundary: plain data, cloneable and JSON-safe. */
export interface WireError {
  readonly code: string | undefined;
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
}

export function toWire(err: unknown): WireError {
  if (err instanceof Error)
    return { code: errorCode(err), name: err.name, message: err.message, stack: err.stack };
  return { code: undefined, name: 'Error', message: String(err), stack: undefined };
}

/**
 * Rebuilds an error from its wire form: a coded error keeps its code (so the receiving side
 * classifies it exactly as the sending side would have), its name, message and the sender's stack.
 * `rebuild` may return the sender's own class for a code, so `instanceof` holds as well.
 */
export function fromWire(
  wire: WireError,
  rebuild: Readonly<Record<string, (message: string) => Error>> = {},
): Error {
  const make = wire.code === undefined ? undefined : rebuild[wire.code];
  const err =
    make !== undefined
      ? make(wire.message)
      : wire.code !== undefined
        ? new CodedError(wire.code, wire.message)
        : new Error(wire.message);
  err.name = wire.name;
  if (wire.stack !== undefined) err.stack = wire.stack;
  return err;
}

/** A campaign id nobody created. One class for core and server; the server answers it with 404. */
export class UnknownCampaignError extends CodedError {
  constructor(readonly campaignId: string) {
    super(
      'PACER_ERR_UNKNOWN_CAMPAIGN',
      `Campaign "${campaignId}" does not exist; create it with POST /campaigns or check the id (GET /campaigns lists them).`,
    );
    this.name = 'UnknownCampaignError';
  }
}
