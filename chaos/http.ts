import http from 'node:http';

/**
 * The harness's HTTP client: a keep-alive agent, a per-request timeout, and a result instead of an
 * exception, because a timeout or a refused connection is an outcome the client must act on (retry,
 * count as unknown), exactly like an exchange's.
 */
export type HttpOutcome =
  | { readonly kind: 'answer'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'error'; readonly message: string };

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

export function send(
  method: string,
  url: string,
  opts: { body?: unknown; apiKey?: string | null; timeoutMs: number },
): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
    const headers: Record<string, string | number> = {};
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
    let settled = false;
    const done = (o: HttpOutcome) => {
      if (settled) return;
      settled = true;
      resolve(o);
    };
    const req = http.request(url, { method, agent, headers, timeout: opts.timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // not JSON: keep the text for the report
        }
        done({ kind: 'answer', status: res.statusCode ?? 0, body });
      });
      res.on('error', (err) => done({ kind: 'error', message: err.message }));
    });
    req.on('timeout', () => {
      req.destroy();
      done({ kind: 'timeout' });
    });
    req.on('error', (err) => done({ kind: 'error', message: err.message }));
    req.end(payload);
  });
}

/** Drops idle keep-alive sockets: a restarted server on the same port must get fresh connections. */
export function closeIdleConnections(): void {
  agent.destroy();
}
