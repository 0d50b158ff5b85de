import { parseArgs } from 'node:util';

/** The options both operations tools share, checked once; a bad one exits 2 with a sentence. */
export interface CommonArgs {
  readonly urls: readonly string[];
  readonly apiKey: string | null;
}

export class UsageError extends Error {}

export function parseCli<T extends Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>>(
  argv: readonly string[],
  options: T,
  usage: string,
) {
  let parsed: ReturnType<typeof parseArgs<{ options: T & CommonOptions; strict: true }>>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: { ...options, ...COMMON_OPTIONS },
      strict: true,
      allowPositionals: false,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${usage}`);
  }
  const values = parsed.values as Record<string, unknown>;
  if (values.help === true) throw new UsageError(usage);
  const urls = (values.url as string[] | undefined) ?? [];
  if (urls.length === 0) throw new UsageError(`--url is required.\n\n${usage}`);
  for (const u of urls) {
    if (!/^https?:\/\/[^\s/]+(:\d+)?\/?$/.test(u)) {
      throw new UsageError(`--url ${u} must look like http://host:port (no path).\n\n${usage}`);
    }
  }
  const common: CommonArgs = {
    urls: urls.map((u) => u.replace(/\/$/, '')),
    apiKey: (values.key as string | undefined) ?? process.env.API_KEY ?? null,
  };
  return { common, values };
}

type CommonOptions = typeof COMMON_OPTIONS;
const COMMON_OPTIONS = {
  url: { type: 'string', multiple: true },
  key: { type: 'string' },
  help: { type: 'boolean' },
} as const;

/** A number option: absent gives the fallback, anything but a positive number is a usage error. */
export function numberOption(
  values: Record<string, unknown>,
  name: string,
  fallback: number,
  usage: string,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${name} ${String(raw)} must be a positive number.\n\n${usage}`);
  }
  return n;
}

/**
 * Runs a check command's `main` and exits with its code: 2 with the message for bad usage, 1 with
 * the stack when the command itself crashed (`what` names it: "health check", "validation").
 */
export function runCommand(main: (argv: string[]) => Promise<number>, argv: string[], what: string): void {
  main(argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(
        `${what} crashed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
