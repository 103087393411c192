/**
 * The envelope facts the receivers put in `msg.dingtalk` (design.md "The message every receiver
 * emits"), read from a decrypted payload in any of DingTalk's shapes (protocol §10).
 */
import { createHash } from 'node:crypto';

export type EventSource = 'http' | 'stream' | 'recovery' | 'test';

export interface EventInfo {
  eventId: string;
  eventType: string;
  corpId?: string;
  eventTime?: number;
  receivedAt: number;
  source: EventSource;
  redelivered?: true;
}

/** The URL-check events DingTalk sends on registration; answered by the receiver, never emitted. */
export const URL_CHECK_EVENTS: ReadonlySet<string> = new Set([
  'check_url',
  'check_create_suite_url',
  'check_update_suite_url',
]);

type Json = Record<string, unknown>;

/** EventType, trimmed (a 2016 sample had "suite_ticket "). Empty when the payload has none. */
export function eventTypeOf(payload: Json): string {
  const value = payload.EventType ?? payload.eventType;
  return typeof value === 'string' ? value.trim() : '';
}

/**
 * DingTalk's eventId when the event carries one (console push, Stream); otherwise a stable hash of
 * the decrypted plaintext, so the same legacy push retried by DingTalk gets the same id.
 */
export function eventIdOf(payload: Json, plaintext: string): string {
  const id = payload.eventId ?? payload.EventId;
  if (typeof id === 'string' && id.length > 0) return id;
  return 'sha256:' + createHash('sha256').update(plaintext, 'utf8').digest('hex').slice(0, 32);
}

function firstString(payload: Json, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = payload[key];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

/** Epoch ms from the fields DingTalk uses, whether sent as a number or a numeric string. */
function firstTime(payload: Json, keys: readonly string[]): number | undefined {
  for (const key of keys) {
    const value = payload[key];
    const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{10,13}$/.test(value) ? Number(value) : NaN;
    if (Number.isFinite(n) && n > 0) return n < 1e12 ? n * 1000 : n;
  }
  return undefined;
}

export function describeEvent(payload: Json, plaintext: string, source: EventSource, receivedAt = Date.now()): EventInfo {
  const info: EventInfo = {
    eventId: eventIdOf(payload, plaintext),
    eventType: eventTypeOf(payload),
    receivedAt,
    source,
  };
  const corpId = firstString(payload, ['CorpId', 'corpId', 'corpid', 'AuthCorpId']);
  if (corpId !== undefined) info.corpId = corpId;
  const eventTime = firstTime(payload, ['EventTime', 'TimeStamp', 'timeStamp', 'eventTime']);
  if (eventTime !== undefined) info.eventTime = eventTime;
  return info;
}
