/**
 * Reads a request body with a size limit, whether or not something in front of us already read it.
 *
 * In a real Node-RED with the default httpAdminRoot of "/", the editor's JSON parser runs before
 * RED.httpNode and leaves `req._body === true`, `req.body` parsed and the stream ended; waiting for
 * 'end' would then hang (node-red-notes.md §4.1). With httpAdminRoot elsewhere the stream is unread.
 */
import type { IncomingMessage } from 'node:http';

export type BodyResult =
  | { kind: 'raw'; bytes: Buffer }
  | { kind: 'parsed'; value: unknown }
  | { kind: 'too-large'; size: number }
  | { kind: 'aborted' };

/** What express / body-parser leave on a request that they have already read. */
interface MaybeParsed extends IncomingMessage {
  _body?: boolean;
  body?: unknown;
}

function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const n = Number(header);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function sizeOfParsed(value: unknown): number {
  if (Buffer.isBuffer(value)) return value.length;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  try {
    return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
  } catch {
    return Infinity;
  }
}

export function readBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const pre = req as MaybeParsed;
  const declared = declaredLength(req);
  if (pre._body === true || req.readableEnded) {
    const size = declared ?? sizeOfParsed(pre.body);
    if (size > limit) return Promise.resolve({ kind: 'too-large', size });
    if (Buffer.isBuffer(pre.body)) return Promise.resolve({ kind: 'raw', bytes: pre.body });
    if (typeof pre.body === 'string') return Promise.resolve({ kind: 'raw', bytes: Buffer.from(pre.body, 'utf8') });
    return Promise.resolve({ kind: 'parsed', value: pre.body });
  }
  if (declared !== undefined && declared > limit) {
    req.resume(); // discard it; the caller answers 413 and closes the connection
    return Promise.resolve({ kind: 'too-large', size: declared });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (result: BodyResult) => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('aborted', onAbort);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.resume();
        finish({ kind: 'too-large', size });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish({ kind: 'raw', bytes: Buffer.concat(chunks, size) });
    const onAbort = () => finish({ kind: 'aborted' });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('aborted', onAbort);
  });
}
