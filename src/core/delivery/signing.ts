/**
 * Standard Webhooks v1 signing (delivery-anchors.md §1): HMAC-SHA256 over "id.timestamp.body" with the
 * base64 key of a `whsec_` secret, sent as "v1,<base64>".
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';

export function generateSecret(): string {
  return 'whsec_' + randomBytes(32).toString('base64');
}

export function secretProblem(secret: unknown): string | undefined {
  if (typeof secret !== 'string' || secret.length === 0) return 'secret is missing';
  const key = secret.startsWith('whsec_') ? secret.slice(6) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key)) return 'secret must be whsec_ followed by base64';
  const bytes = Buffer.from(key, 'base64').length;
  if (bytes < 24 || bytes > 64) return `secret key must be 24 to 64 bytes, got ${bytes}`;
  return undefined;
}

export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  return 'v1,' + createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`, 'utf8').digest('base64');
}

/** A stable webhook-id per (event, subscriber): retries and replays keep it, so receivers can de-duplicate. */
export function webhookId(eventId: string, subscriber: string): string {
  return 'msg_' + createHash('sha256').update(`${subscriber}\n${eventId}`, 'utf8').digest('base64url').slice(0, 27);
}

export function webhookHeaders(secret: string, id: string, timestampSeconds: number, body: string): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': sign(secret, id, timestampSeconds, body),
  };
}
