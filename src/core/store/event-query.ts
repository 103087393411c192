/**
 * Searching the inbox for the event center: "did system X get event Y?". A query names an event id, an
 * approval instance, a user, a type and a time range; the store narrows the candidates cheaply (the event
 * id's index, else a bounded window of the newest events in the range whose stored text contains every
 * needle), and matches() here decides on the parsed message, the same way for every back end.
 */

export interface EventQuery {
  eventId?: string;
  /** An approval (OA) instance: `processInstanceId` (or `mainProcessInstanceId`) in the payload. */
  processInstanceId?: string;
  /** A user named in the payload (userId, staffId, UserId, userIdList..., also inside dataList rows). */
  userId?: string;
  type?: string;
  /** Received at or after (ms). */
  from?: number;
  /** Received at or before (ms). */
  to?: number;
  /** At most this many events (default 50, at most MAX_RESULTS). */
  limit?: number;
  /** At most this many of the newest events in the time range are looked at (default DEFAULT_SCAN). */
  scanLimit?: number;
}

/** An inbox row as the event center shows it. */
export interface StoredEvent {
  eventId: string;
  /** The app (dingtalk-app node id) that received it. */
  scope: string;
  /** The receiver key: the dingtalk-event-in node id, or `stream:<app id>`. */
  receiver: string;
  receivedAt: number;
  /** Handed on to the flow (every dispatch node queued it). */
  handed: boolean;
  /** The received message as stored (JSON text): { topic, payload, dingtalk: { source, ... } }. */
  message: string;
}

export interface EventSearchResult {
  events: StoredEvent[];
  /** How many events of the time range were looked at. */
  scanned: number;
  /** Every event of the time range was looked at (false: narrow the range to see older ones). */
  complete: boolean;
}

export const DEFAULT_RESULTS = 50;
export const MAX_RESULTS = 200;
export const DEFAULT_SCAN = 5000;
export const MAX_SCAN = 50_000;

/** Payload fields that name a user (DingTalk spells them several ways, legacy payloads capitalised). */
const USER_KEYS: ReadonlySet<string> = new Set(['userId', 'userid', 'UserId', 'staffId', 'StaffId', 'userIdList', 'UserIdList', 'staffIdList', 'operator']);
const INSTANCE_KEYS: ReadonlySet<string> = new Set(['processInstanceId', 'mainProcessInstanceId', 'ProcessInstanceId']);
/** Users sit at most this deep (dataList rows, diffInfo). */
const MAX_DEPTH = 4;

/** The query with its limits clamped and empty criteria dropped. */
export function normaliseQuery(query: EventQuery): Required<Pick<EventQuery, 'limit' | 'scanLimit'>> & EventQuery {
  const text = (v: unknown) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
  const time = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const clamp = (v: unknown, fallback: number, max: number) => (typeof v === 'number' && Number.isFinite(v) && v >= 1 ? Math.min(max, Math.floor(v)) : fallback);
  return {
    eventId: text(query.eventId),
    processInstanceId: text(query.processInstanceId),
    userId: text(query.userId),
    type: text(query.type),
    from: time(query.from),
    to: time(query.to),
    limit: clamp(query.limit, DEFAULT_RESULTS, MAX_RESULTS),
    scanLimit: clamp(query.scanLimit, DEFAULT_SCAN, MAX_SCAN),
  };
}

/**
 * Texts every matching message's JSON contains (a cheap filter the store applies before matches()):
 * each value as JSON.stringify writes it inside quotes. Always three (unused ones empty: every text
 * contains the empty string), so a back end binds a fixed number of parameters.
 */
export function needles(query: EventQuery): [string, string, string] {
  const quoted = (v: string | undefined) => (v === undefined ? '' : JSON.stringify(v).slice(1, -1));
  return [quoted(query.type), quoted(query.processInstanceId), quoted(query.userId)];
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Whether a field in `keys`, anywhere in `value` (at most MAX_DEPTH deep), holds `wanted` (or a list with it). */
function holds(value: unknown, keys: ReadonlySet<string>, wanted: string, depth = 0): boolean {
  if (depth > MAX_DEPTH) return false;
  if (Array.isArray(value)) return value.some((v) => holds(v, keys, wanted, depth + 1));
  if (!isObject(value)) return false;
  for (const [key, v] of Object.entries(value)) {
    if (keys.has(key) && (v === wanted || (Array.isArray(v) && v.includes(wanted)))) return true;
    if (typeof v === 'object' && v !== null && holds(v, keys, wanted, depth + 1)) return true;
  }
  return false;
}

/** The stored message, parsed (undefined when it is not an object). */
export function parseMessage(text: string): Json | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a stored event matches every criterion of the query. */
export function matches(event: StoredEvent, query: EventQuery): boolean {
  if (query.eventId !== undefined && event.eventId !== query.eventId) return false;
  if (query.from !== undefined && event.receivedAt < query.from) return false;
  if (query.to !== undefined && event.receivedAt > query.to) return false;
  if (query.type === undefined && query.processInstanceId === undefined && query.userId === undefined) return true;
  const message = parseMessage(event.message);
  if (!message) return false;
  const info = isObject(message.dingtalk) ? message.dingtalk : {};
  if (query.type !== undefined && info.eventType !== query.type && message.topic !== query.type) return false;
  const payload = message.payload;
  if (query.processInstanceId !== undefined && !holds(payload, INSTANCE_KEYS, query.processInstanceId)) return false;
  if (query.userId !== undefined && !holds(payload, USER_KEYS, query.userId)) return false;
  return true;
}

/** Where an event came from (http / stream / recovery / test), read from its stored message. */
export function sourceOf(message: Json | undefined): string | undefined {
  const info = message && isObject(message.dingtalk) ? message.dingtalk : undefined;
  return typeof info?.source === 'string' ? info.source : undefined;
}
