/**
 * A small JSON client for a running pacer: the base URL, and the API key for write routes when
 * the deployment has one. Uses fetch (undici keeps connections alive).
 */
export interface PacerResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
  readonly elapsedMs: number;
}

export class PacerClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string | null,
    private readonly timeoutMs = 10_000,
  ) {}

  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<PacerResponse<T>> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey !== null) headers.authorization = `Bearer ${this.apiKey}`;
    const started = performance.now();
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    const elapsedMs = performance.now() - started;
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) parsed = JSON.parse(text);
    return { status: res.status, body: parsed as T, text, elapsedMs };
  }

  get<T = unknown>(path: string): Promise<PacerResponse<T>> {
    return this.request<T>('GET', path);
  }

  post<T = unknown>(path: string, body: unknown): Promise<PacerResponse<T>> {
    return this.request<T>('POST', path, body);
  }
}

/** The value at quantile q (0..1) of the samples, nearest rank. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}
