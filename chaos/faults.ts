/**
 * The faults the harness injects. One name per fault, as `--faults` takes them; each one is a
 * window [startMs, startMs + durationMs) of the run's traffic phase.
 */
export const FAULT_KINDS = [
  /** SIGKILL redis-server; restart it on the same port with its data (append-only file kept). */
  'redis-kill',
  /** SIGKILL redis-server and restart it on the same port EMPTY: its data dir wiped. */
  'redis-empty',
  /** SIGSTOP redis-server (connections stay open, nothing answers), SIGCONT at the end. */
  'redis-hang',
  /** Redis answers late: repeated CLIENT PAUSE ALL of 100 to 900 ms. */
  'redis-slow',
  /** kill -9 one server process; restart it on the same port, journal and instance id. */
  'instance-kill',
  /** Fill the instance's journal file system (a small tmpfs) to the last byte; free it at the end. */
  'disk-full',
  /** Step one instance's wall clock (libfaketime) by -120 s to +300 s; step it back at the end. */
  'clock-step',
  /** Start a second server with the same INSTANCE_ID and its own journal dir; stop it at the end. */
  'duplicate-instance',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];

export function isFaultKind(s: string): s is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(s);
}

/** Faults on Redis: the shared store, one at a time. */
export const REDIS_FAULTS: ReadonlySet<FaultKind> = new Set([
  'redis-kill',
  'redis-empty',
  'redis-hang',
  'redis-slow',
]);

export interface Fault {
  readonly kind: FaultKind;
  /** Offset from the start of the traffic phase. */
  readonly startMs: number;
  readonly durationMs: number;
  /** Index of the server instance the fault hits; null for Redis faults. */
  readonly instance: number | null;
  /** clock-step: the offset in seconds the instance's clock is stepped by. */
  readonly clockStepS?: number;
}

/** The resource a fault occupies: two faults on one resource never overlap. */
export function faultResource(f: Fault): string {
  return f.instance === null ? 'redis' : `instance-${f.instance}`;
}

export function describeFault(f: Fault): string {
  const where = f.instance === null ? 'redis' : `instance ${f.instance}`;
  const step = f.clockStepS === undefined ? '' : ` by ${f.clockStepS > 0 ? '+' : ''}${f.clockStepS} s`;
  return `${(f.startMs / 1000).toFixed(1)}s +${(f.durationMs / 1000).toFixed(1)}s ${f.kind} ${where}${step}`;
}
