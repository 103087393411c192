/**
 * Reads a request body with a size limit and a deadline, whether or not something in front of us
 * already read it.
 *
 * In a real Node-RED with the default httpAdminRoot of "/", the admin app's JSON parser runs before
 * RED.httpNode and leaves `req._body === true`, `req.body` parsed and the stream ended; waiting for
 * 'end' would then hang (node-red-notes.md §4.1). That parser inflates gzip/deflate bodies, so the
 * Content-Length it saw is the compressed size: the limit is checked against the parsed value itself.
 * With httpAdminRoot elsewhere the stream is unread and read here, inflating the same encodings with
 * the limit on both the bytes received and the bytes inflated, and giving up after `timeoutMs` so a
 * body that never ends does not hold a socket until Node's own 300 s request timeout.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { jsonSizeOver } from './json-size';

export type BodyResult =
  | { kind: 'raw'; bytes: Buffer }
  | { kind: 'parsed'; value: unknown }
  | { kind: 'too-large'; size: number }
  /** The body did not arrive in full within the deadline. */
  | { kind: 'timeout'; afterMs: number }
  /** A Content-Encoding we cannot decode, or a compressed body that does not inflate. */
  | { kind: 'bad-encoding'; encoding: string }
  | { kind: 'aborted' };

export interface ReadBodyOptions {
  /** Deadline for a body read here, from the call on (default 10 s). */
  timeoutMs?: number;
}

export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

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

function encodingOf(req: IncomingMessage): string {
  return (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase() || 'identity';
}

/** The decoder for a Content-Encoding (the ones body-parser inflates), null for none, undefined if unknown. */
function decoderFor(encoding: string): (() => NodeJS.ReadWriteStream) | null | undefined {
  if (encoding === 'identity') return null;
  if (encoding === 'gzip' || encoding === 'x-gzip') return createGunzip;
  if (encoding === 'deflate') return createInflate;
  return undefined;
}

/** Size of a body a parser in front already read: measured on what it produced, never on its header. */
function parsedSize(value: unknown, limit: number): number {
  if (Buffer.isBuffer(value)) return value.length;
  if (typeof value === 'string') return Buffer.byteLength(value, 'utf8');
  return jsonSizeOver(value, limit);
}

function alreadyRead(pre: MaybeParsed, limit: number): BodyResult {
  // An uncompressed body's Content-Length is what the parser read; a compressed one's says nothing.
  const declared = encodingOf(pre) === 'identity' ? declaredLength(pre) : undefined;
  if (declared !== undefined && declared > limit) return { kind: 'too-large', size: declared };
  const size = parsedSize(pre.body, limit);
  if (size > limit) return { kind: 'too-large', size };
  if (Buffer.isBuffer(pre.body)) return { kind: 'raw', bytes: pre.body };
  if (typeof pre.body === 'string') return { kind: 'raw', bytes: Buffer.from(pre.body, 'utf8') };
  return { kind: 'parsed', value: pre.body };
}

export function readBody(req: IncomingMessage, limit: number, options: ReadBodyOptions = {}): Promise<BodyResult> {
  const pre = req as MaybeParsed;
  if (pre._body === true || req.readableEnded) return Promise.resolve(alreadyRead(pre, limit));
  // The client hung up while something in front (an asynchronous httpNodeMiddleware) held the request:
  // its 'aborted' event has passed, and waiting would end in a timeout answered to nobody.
  if (req.destroyed) return Promise.resolve({ kind: 'aborted' });
  const encoding = encodingOf(req);
  const decoder = decoderFor(encoding);
  const declared = declaredLength(req);
  if (decoder === undefined || (declared !== undefined && declared > limit)) {
    req.resume(); // discard it; the caller answers and closes the connection
    return Promise.resolve(decoder === undefined ? { kind: 'bad-encoding', encoding } : { kind: 'too-large', size: declared as number });
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0; // bytes on the wire
    let size = 0; // bytes after decoding
    let settled = false;
    const decoded: Readable = decoder ? (req.pipe(decoder()) as unknown as Readable) : req;
    const finish = (result: BodyResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.off('data', onReceived);
      req.off('error', onAbort);
      req.off('aborted', onAbort);
      decoded.off('data', onData);
      decoded.off('end', onEnd);
      decoded.off('error', onDecodeError);
      if (decoder) {
        req.unpipe(decoded as unknown as NodeJS.WritableStream);
        decoded.on('error', () => {}); // whatever it still has to say, nobody is listening
        decoded.destroy();
      }
      // Left unread, the rest is discarded by Node once the answer (with Connection: close) is sent.
      if (result.kind === 'too-large' || result.kind === 'bad-encoding') req.resume();
      resolve(result);
    };
    const onReceived = (chunk: Buffer) => {
      received += chunk.length;
      // Compressed data can be larger than its output (or inflate to nothing): limit the wire bytes too.
      if (received > limit) finish({ kind: 'too-large', size: received });
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        finish({ kind: 'too-large', size });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish({ kind: 'raw', bytes: Buffer.concat(chunks, size) });
    const onAbort = () => finish({ kind: 'aborted' });
    const onDecodeError = () => finish({ kind: 'bad-encoding', encoding });
    const timer = setTimeout(() => finish({ kind: 'timeout', afterMs: timeoutMs }), timeoutMs);
    if (decoder) req.on('data', onReceived);
    req.on('error', onAbort);
    req.on('aborted', onAbort);
    decoded.on('data', onData);
    decoded.on('end', onEnd);
    if (decoder) decoded.on('error', onDecodeError);
  });
}
