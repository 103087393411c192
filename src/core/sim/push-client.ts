/**
 * Pushes one event to a callback URL exactly as DingTalk does (dingtalk-protocol.md §2, §5, §6) and
 * checks the answer the way DingTalk does (§8): HTTP 200, a JSON body whose msg_signature is the
 * signature of its timeStamp/nonce/encrypt under the same token, and whose encrypt decrypts, for the
 * same receive id, to "success". Anything else is a failed delivery that DingTalk would retry.
 *
 * Used by the dingtalk-sim CLI and by the receiver's "send test event" button. node:http rather
 * than fetch, so that a push to our own server on a self-signed https can be allowed.
 */
import http from 'node:http';
import https from 'node:https';
import { CipherError, DingTalkCipher, randomAlphanumeric } from '../cipher';

/** `msg_signature` is the console HTTP push (flavour B); legacy register_call_back and ISV pushes use `signature`. */
export type SignatureParam = 'msg_signature' | 'signature';

export interface PushOptions {
  url: string;
  /** The decrypted event, as JSON text. */
  plaintext: string;
  /** appKey (Client ID), corpId or suiteKey: the id the receiver expects (§4), and the id the reply must carry. */
  receiveId: string;
  /** A ready cipher (then token and aesKey are not needed), or the token and aesKey to build one. */
  cipher?: DingTalkCipher;
  token?: string;
  aesKey?: string;
  signatureParam?: SignatureParam;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** For https: false accepts a self-signed certificate (our own server only). */
  rejectUnauthorized?: boolean;
  timeoutMs?: number;
  /** The request timestamp, epoch ms (default now). */
  now?: number;
}

export interface SignedPush {
  /** The callback URL with the signature, timestamp and nonce appended. */
  url: string;
  /** `{"encrypt":"…"}` */
  body: string;
}

export interface ReplyCheck {
  verified: boolean;
  /** The receiver's JSON error body on a non-200 answer (`{"error": code, "message": …}`). */
  error?: { error?: string; message?: string };
  /** Why the push did not verify, in words. */
  problem?: string;
  /** HTTP 404 without a receiver's JSON error: nothing listens at this URL path (a wrong --url). */
  noReceiver?: true;
}

export const NO_RECEIVER = 'no DingTalk receiver at this URL (HTTP 404)';

export interface PushResult extends ReplyCheck {
  status: number;
  ms: number;
  body: string;
}

const REPLY_FIELDS = ['msg_signature', 'timeStamp', 'nonce', 'encrypt'] as const;

/** The options' cipher, or one built from their token and aesKey (throws CipherError when unusable). */
export const cipherFor = (o: Pick<PushOptions, 'cipher' | 'token' | 'aesKey' | 'receiveId'>): DingTalkCipher =>
  o.cipher ?? new DingTalkCipher({ token: o.token ?? '', aesKey: o.aesKey ?? '', receiveId: o.receiveId });

/** The request DingTalk would make for `plaintext`: ms timestamp and an 8-character nonce, like its samples. */
export function signPush(cipher: DingTalkCipher, o: Pick<PushOptions, 'url' | 'plaintext' | 'receiveId' | 'signatureParam' | 'now'>): SignedPush {
  const encrypt = cipher.encrypt(o.plaintext, { receiveId: o.receiveId });
  const timestamp = String(o.now ?? Date.now());
  const nonce = randomAlphanumeric(8);
  const url = new URL(o.url);
  url.searchParams.set(o.signatureParam ?? 'msg_signature', cipher.sign(timestamp, nonce, encrypt));
  url.searchParams.set('timestamp', timestamp);
  url.searchParams.set('nonce', nonce);
  return { url: url.toString(), body: JSON.stringify({ encrypt }) };
}

/** Whether an answer is the encrypted, signed "success" for `receiveId` that DingTalk needs; why not otherwise. */
export function checkReply(cipher: DingTalkCipher, receiveId: string, status: number, body: string): ReplyCheck {
  if (status !== 200) {
    const error = receiverError(body);
    // A receiver answers its own JSON errors; a bare 404 (Node-RED's HTML "Cannot POST") means no receiver has this path.
    if (!error && status === 404) return { verified: false, noReceiver: true, problem: NO_RECEIVER };
    const what = error ? (error.message ? `${error.error}: ${error.message}` : error.error) : body.trim() ? bodyGist(body) : '(empty body)';
    return { verified: false, ...(error && { error }), problem: `HTTP ${status}: ${what}` };
  }
  let reply: Record<string, unknown>;
  try {
    reply = JSON.parse(body);
  } catch {
    return { verified: false, problem: `reply is not JSON: ${snippet(body)}` };
  }
  const missing = REPLY_FIELDS.filter((k) => typeof reply?.[k] !== 'string');
  if (missing.length > 0) return { verified: false, problem: `reply lacks the string field(s) ${missing.join(', ')}` };
  try {
    const request = { signature: reply.msg_signature, timestamp: reply.timeStamp, nonce: reply.nonce, encrypt: reply.encrypt };
    const { plaintext } = cipher.open(request, [receiveId]);
    if (plaintext !== 'success') return { verified: false, problem: `reply decrypts to "${snippet(plaintext)}", not "success"` };
  } catch (err) {
    if (err instanceof CipherError) return { verified: false, problem: `reply rejected (${err.code}): ${err.message}` };
    throw err;
  }
  return { verified: true };
}

/**
 * POSTs the signed push and checks the answer. Resolves for every HTTP answer, verified or not;
 * rejects when none came (refused, reset, timed out; err.code says which) or the options are
 * unusable (CipherError for the token or aesKey, TypeError for the URL).
 */
export async function sendPush(o: PushOptions): Promise<PushResult> {
  const cipher = cipherFor(o);
  const push = signPush(cipher, o);
  const started = performance.now();
  const { status, body } = await post(push, o);
  return { status, ms: Math.round(performance.now() - started), body, ...checkReply(cipher, o.receiveId, status, body) };
}

function post(push: SignedPush, o: PushOptions): Promise<{ status: number; body: string }> {
  const url = new URL(push.url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new TypeError('URL must be http or https'));
  const timeoutMs = o.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, {
      method: 'POST',
      headers: { ...o.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(push.body) },
      ...(url.protocol === 'https:' && { rejectUnauthorized: o.rejectUnauthorized ?? true }),
      // A connection per push, as DingTalk's servers make: no pooled socket that the receiver may have
      // closed meanwhile (a spurious ECONNRESET), and nothing that keeps the CLI's process alive.
      agent: false,
      timeout: timeoutMs,
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.end(push.body);
  });
}

/** The receiver's JSON error (`{"error": code, "message": …}`), if the body is one. */
function receiverError(body: string): { error: string; message?: string } | undefined {
  try {
    const parsed = JSON.parse(body);
    if (parsed && typeof parsed.error === 'string') {
      return typeof parsed.message === 'string' ? { error: parsed.error, message: parsed.message } : { error: parsed.error };
    }
  } catch {
    // not JSON
  }
  return undefined;
}

/** An error page in a few words (its title, heading or text without the tags), anything else as a snippet. */
function bodyGist(body: string): string {
  if (!/^\s*<(!doctype|html)/i.test(body)) return snippet(body);
  // Express titles every error page "Error": its <pre> says what happened.
  const named = /<(title|pre|h1)[^>]*>([^<]*)</i.exec(body.replace(/<title>\s*Error\s*<\/title>/i, ''))?.[2].trim();
  const text = named || body.replace(/<[^>]*>/g, ' ').trim();
  return text ? `HTML page "${snippet(text)}"` : 'an HTML page';
}

const snippet = (text: string): string => (text.length > 200 ? text.slice(0, 200) + '…' : text).replace(/\s+/g, ' ');
