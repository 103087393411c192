/**
 * One HTTP request of a delivery, over a keep-alive agent, with a timeout that covers the whole
 * exchange. Redirects are not followed (Standard Webhooks treats 3xx as failure).
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class DeliveryError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

const MAX_RESPONSE_BYTES = 64 * 1024;

export interface Agents {
  http: http.Agent;
  https: https.Agent;
}

export function createAgents(maxSockets: number): Agents {
  return {
    http: new http.Agent({ keepAlive: true, maxSockets }),
    https: new https.Agent({ keepAlive: true, maxSockets }),
  };
}

export function destroyAgents(agents: Agents): void {
  agents.http.destroy();
  agents.https.destroy();
}

export function httpSend(
  url: URL,
  options: { method: string; headers: Record<string, string>; body: string; timeoutMs: number; agents: Agents },
): Promise<HttpResult> {
  const transport = url.protocol === 'https:' ? https : http;
  const agent = url.protocol === 'https:' ? options.agents.https : options.agents.http;
  const body = Buffer.from(options.body, 'utf8');
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | null, result?: HttpResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(result as HttpResult);
    };
    const req = transport.request(
      url,
      { method: options.method, agent, headers: { ...options.headers, 'content-length': String(body.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        });
        res.on('end', () => finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', (err) => finish(new DeliveryError('response-error', err.message)));
      },
    );
    const timer = setTimeout(() => {
      finish(new DeliveryError('timeout', `no complete answer within ${options.timeoutMs} ms`));
      req.destroy();
    }, options.timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => finish(new DeliveryError(err.code ?? 'request-error', err.message)));
    req.end(body);
  });
}
