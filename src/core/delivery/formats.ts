/**
 * What goes on the wire for one attempt, per subscriber format:
 *   json      the event as JSON, signed per Standard Webhooks (webhook-id / -timestamp / -signature);
 *   dingtalk  the event re-encrypted and signed exactly like a DingTalk push with the subscriber's own
 *             token / aesKey / receive id, and successful only if the reply decrypts to "success".
 * The outbox stores the event; the wire body is derived from it the same way on every attempt.
 */
import { DingTalkCipher, randomAlphanumeric } from '../cipher';
import type { HttpResult } from './http-send';
import { webhookHeaders, webhookId } from './signing';

export type Format = 'json' | 'dingtalk';

export interface EventMessage {
  topic?: unknown;
  payload?: unknown;
  dingtalk?: { eventId?: string; eventType?: string; eventTime?: number; receivedAt?: number; [k: string]: unknown };
}

/**
 * What the outbox stores for a message: the event itself (topic, payload, dingtalk), independent of
 * the format, so a subscriber whose format changes still sends its backlog correctly.
 */
export function storedEvent(msg: EventMessage): string {
  return JSON.stringify({ topic: msg.topic, payload: msg.payload ?? null, dingtalk: msg.dingtalk ?? {} });
}

/** The request body for a stored event: deterministic, so every retry sends the same bytes. */
export function wireBody(format: Format, stored: string): string {
  const msg = JSON.parse(stored) as EventMessage;
  if (format === 'dingtalk') return JSON.stringify(msg.payload ?? {});
  const info = msg.dingtalk ?? {};
  const time = info.eventTime ?? info.receivedAt;
  return JSON.stringify({
    type: info.eventType ?? (typeof msg.topic === 'string' ? msg.topic : ''),
    id: info.eventId,
    timestamp: time !== undefined ? new Date(time).toISOString() : undefined,
    data: msg.payload ?? null,
    dingtalk: info,
  });
}

export interface Attempt {
  url: URL;
  headers: Record<string, string>;
  body: string;
  /** Whether the answer counts as delivered, beyond a 2xx status. */
  accept(result: HttpResult): { ok: boolean; reason?: string };
}

export interface FormatOptions {
  format: Format;
  url: string;
  headers: Record<string, string>;
  subscriber: string;
  secret?: string;
  cipher?: DingTalkCipher;
}

const jsonAccept = () => ({ ok: true });

export function buildAttempt(options: FormatOptions, eventId: string, stored: string, now: number): Attempt {
  const url = new URL(options.url);
  const body = wireBody(options.format, stored);
  if (options.format === 'json') {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
    if (options.secret) Object.assign(headers, webhookHeaders(options.secret, webhookId(eventId, options.subscriber), Math.floor(now / 1000), body));
    else headers['webhook-id'] = webhookId(eventId, options.subscriber);
    return { url, headers, body, accept: jsonAccept };
  }
  const cipher = options.cipher;
  if (!cipher) throw new Error('format "dingtalk" needs the subscriber token and aesKey');
  const encrypt = cipher.encrypt(body);
  const timestamp = String(now);
  const nonce = randomAlphanumeric(8);
  const signature = cipher.sign(timestamp, nonce, encrypt);
  // Both parameter names: handlers written for console pushes read msg_signature, legacy ones signature.
  url.searchParams.set('msg_signature', signature);
  url.searchParams.set('signature', signature);
  url.searchParams.set('timestamp', timestamp);
  url.searchParams.set('nonce', nonce);
  return {
    url,
    headers: { 'content-type': 'application/json', ...options.headers },
    body: JSON.stringify({ encrypt }),
    accept: (result) => {
      try {
        const reply = JSON.parse(result.body) as Record<string, unknown>;
        const opened = cipher.open({
          signature: reply.msg_signature,
          timestamp: reply.timeStamp ?? reply.timestamp,
          nonce: reply.nonce,
          encrypt: reply.encrypt,
        });
        return opened.plaintext === 'success' ? { ok: true } : { ok: false, reason: 'the reply does not decrypt to "success"' };
      } catch (err) {
        return { ok: false, reason: `the reply is not an encrypted "success": ${(err as Error).message}` };
      }
    },
  };
}
