import http from 'node:http';

/**
 * A JSON client on one keep-alive agent. Requests beyond `connections` wait in the agent's queue;
 * the load test measures latency from each request's due time, so that wait is counted, not hidden.
 */
export interface HttpAnswer {
  /** HTTP status, or 0 when no answer came (then `error` says why). */
  readonly status: number;
  readonly body: unknown;
  readonly error?: string;
}

export class HttpClient {
  private readonly agent: http.Agent;

  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string | null,
    connections: number,
    private readonly timeoutMs: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  }

  send(method: string, path: string, body?: unknown): Promise<HttpAnswer> {
    return new Promise((resolve) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers: Record<string, string | number> = {};
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      if (this.apiKey !== null) headers.authorization = `Bearer ${this.apiKey}`;
      let settled = false;
      const done = (a: HttpAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(a);
      };
      const req = http.request(`${this.baseUrl}${path}`, { method, agent: this.agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON: keep the text for the error report
          }
          done({ status: res.statusCode ?? 0, body: parsed });
        });
        res.on('error', (e) => done({ status: 0, body: null, error: errorName(e) }));
      });
      // The timeout covers the whole exchange, including the wait for a free socket.
      const timer = setTimeout(() => {
        req.destroy();
        done({ status: 0, body: null, error: 'timeout' });
      }, this.timeoutMs);
      req.on('error', (e) => done({ status: 0, body: null, error: errorName(e) }));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function errorName(e: Error): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code ?? e.message;
}

/** The key errors are counted under: "HTTP 503", "ECONNREFUSED", "timeout". */
export function errorKey(a: HttpAnswer): string {
  return a.status === 0 ? (a.error ?? 'no answer') : `HTTP ${a.status}`;
}
