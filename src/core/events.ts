/**
 * Reading DingTalk events in any of the shapes they arrive in (dingtalk-protocol.md §10, §9.3):
 *   - a decrypted HTTP payload, legacy `register_call_back` (PascalCase, no eventId) or console push;
 *   - a Stream-mode frame `{headers: {eventType, eventId, eventBornTime, eventCorpId…}, data: "<json>"}`;
 *   - an entry of the failed-events list `{call_back_tag, event_time, <tag>: {corpid, …}}`.
 * Every receiver fills `msg.dingtalk` through describeEvent, so the same event gets the same facts
 * (and the same id) whichever way it came.
 */
import { createHash } from 'node:crypto';
import { CATALOGUE, type CatalogueEntry, DOC_BASE, type EventGroup, GROUPS, type GroupEntry } from './event-catalogue';

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

type Json = Record<string, unknown>;

/** The URL-check events DingTalk sends on registration; answered by the receiver, never emitted. */
export const URL_CHECK_EVENTS: ReadonlySet<string> = new Set(['check_url', 'check_create_suite_url', 'check_update_suite_url']);

const BY_TYPE = new Map<string, CatalogueEntry>(CATALOGUE.map((entry) => [entry.type, entry]));

export function catalogueEntry(type: string): CatalogueEntry | undefined {
  return BY_TYPE.get(type);
}

export function groupOf(type: string): EventGroup | undefined {
  return BY_TYPE.get(type)?.group;
}

/** The catalogue as the editor shows it (groups in order, documentation as full URLs). */
export function catalogueForEditor(): { groups: readonly GroupEntry[]; events: CatalogueEntry[] } {
  return { groups: GROUPS, events: CATALOGUE.map((entry) => ({ ...entry, doc: DOC_BASE + entry.doc })) };
}

// --- shapes -------------------------------------------------------------------------------------

const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);

export interface StreamFrame {
  headers: Json & { eventType: string };
  data: unknown;
}

export function isStreamFrame(value: unknown): value is StreamFrame {
  return isObject(value) && isObject(value.headers) && typeof value.headers.eventType === 'string' && 'data' in value;
}

export interface FailedEntry extends Json {
  call_back_tag: string;
  event_time?: number;
}

export function isFailedEntry(value: unknown): value is FailedEntry {
  return isObject(value) && typeof value.call_back_tag === 'string';
}

function firstString(source: Json, keys: readonly string[]): string | undefined {
  for (const key of keys) {
    const value = source[key];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

/** Epoch ms from a number or a numeric string; 10-digit values are seconds. */
export function epochMs(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d{10,13}$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0) return undefined;
  return n < 1e12 ? n * 1000 : n;
}

function firstTime(source: Json, keys: readonly string[]): number | undefined {
  for (const key of keys) {
    const ms = epochMs(source[key]);
    if (ms !== undefined) return ms;
  }
  return undefined;
}

/** The event body inside a failed-list entry (a key named after the tag; once seen as a string). */
function failedBody(entry: FailedEntry): Json {
  const body = entry[entry.call_back_tag];
  return isObject(body) ? body : {};
}

// --- the facts of an event ----------------------------------------------------------------------

/** EventType, trimmed (a 2016 sample had "suite_ticket "). Empty when there is none. */
export function eventTypeOf(event: unknown): string {
  if (isStreamFrame(event)) return event.headers.eventType.trim();
  if (isFailedEntry(event)) return event.call_back_tag.trim();
  if (!isObject(event)) return '';
  const value = event.EventType ?? event.eventType;
  return typeof value === 'string' ? value.trim() : '';
}

/** JSON with object keys sorted, so equal content always hashes equally. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return '[' + value.map(canonicalJson).join(',') + ']';
  if (isObject(value)) {
    return '{' + Object.keys(value).sort().map((k) => JSON.stringify(k) + ':' + canonicalJson(value[k])).join(',') + '}';
  }
  return JSON.stringify(value) ?? 'null';
}

export const contentId = (text: string): string => 'sha256:' + createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32);

/**
 * DingTalk's eventId when the event carries one (console push body, Stream headers); otherwise a
 * stable hash of what DingTalk sent: the decrypted plaintext when there is one, else the canonical
 * JSON, together with `scope` (the app that received it). A push that DingTalk retries therefore keeps
 * its id, and the same content received by two apps (two legacy apps of one company) is two events.
 */
export function eventIdOf(event: unknown, plaintext?: string, scope?: string): string {
  if (isStreamFrame(event)) {
    const id = event.headers.eventId;
    if (typeof id === 'string' && id.length > 0) return id;
  } else if (isObject(event)) {
    const id = event.eventId ?? event.EventId;
    if (typeof id === 'string' && id.length > 0) return id;
  }
  const text = plaintext ?? canonicalJson(event);
  return contentId(scope ? `${scope}\n${text}` : text);
}

export function corpIdOf(event: unknown): string | undefined {
  if (isStreamFrame(event)) return firstString(event.headers, ['eventCorpId']);
  if (isFailedEntry(event)) return firstString(failedBody(event), ['corpid', 'corpId', 'CorpId']);
  if (!isObject(event)) return undefined;
  return firstString(event, ['CorpId', 'corpId', 'corpid', 'AuthCorpId']);
}

export function eventTimeOf(event: unknown): number | undefined {
  if (isStreamFrame(event)) return firstTime(event.headers, ['eventBornTime']);
  if (isFailedEntry(event)) return epochMs(event.event_time);
  if (!isObject(event)) return undefined;
  return firstTime(event, ['EventTime', 'TimeStamp', 'timeStamp', 'eventTime']);
}

export function describeEvent(
  event: unknown,
  source: EventSource,
  options: { plaintext?: string; receivedAt?: number; scope?: string } = {},
): EventInfo {
  const info: EventInfo = {
    eventId: eventIdOf(event, options.plaintext, options.scope),
    eventType: eventTypeOf(event),
    receivedAt: options.receivedAt ?? Date.now(),
    source,
  };
  const corpId = corpIdOf(event);
  if (corpId !== undefined) info.corpId = corpId;
  const eventTime = eventTimeOf(event);
  if (eventTime !== undefined) info.eventTime = eventTime;
  return info;
}

// --- converting to the developer-console shape --------------------------------------------------

/** Legacy PascalCase business fields and their console names (fixtures/events/legacy vs top level). */
export const LEGACY_FIELD_NAMES: Readonly<Record<string, string>> = {
  UserId: 'userId',
  DeptId: 'deptId',
  ChatId: 'chatId',
  OpenConversationId: 'openConversationId',
  Operator: 'operator',
  Owner: 'owner',
  Title: 'title',
  DataList: 'dataList',
  StaffId: 'staffId',
};

/**
 * A payload in the developer-console shape, for flows that must serve legacy and console pushes
 * alike. Console payloads come back unchanged; ISV events (SuiteKey, AuthCorpId…) keep their names.
 *   - legacy business fields get their console names (LEGACY_FIELD_NAMES);
 *   - `TimeStamp` becomes `timeStamp` where the console payload has one, and fills `EventTime`;
 *   - `CorpId` is filled from `corpId`/`corpid` (an approval's legacy `corpId` moves there).
 * Returns a new object; the input is not modified.
 */
export function normalisePayload(payload: Json): Json {
  const entry = catalogueEntry(eventTypeOf(payload));
  if (entry?.group === 'isv' || (entry && entry.fields.some((f) => /^[A-Z]/.test(f)))) return { ...payload };
  const out: Json = {};
  for (const [key, value] of Object.entries(payload)) {
    const renamed = LEGACY_FIELD_NAMES[key];
    if (renamed !== undefined && !(renamed in payload)) out[renamed] = value;
    else if (key === 'TimeStamp') {
      if (!('EventTime' in payload) && epochMs(value) !== undefined) out.EventTime = epochMs(value);
      if ((entry === undefined || entry.fields.includes('timeStamp')) && !('timeStamp' in payload)) out.timeStamp = value;
    } else out[key] = value;
  }
  if (!('CorpId' in out)) {
    const lower = typeof out.corpId === 'string' ? 'corpId' : typeof out.corpid === 'string' ? 'corpid' : undefined;
    if (lower !== undefined) {
      out.CorpId = out[lower];
      if (!entry?.fields.includes(lower)) delete out[lower];
    }
  }
  return out;
}

/**
 * A failed-events list entry (§9.3) as a console-shaped payload: the tag becomes EventType, the
 * entry's time EventTime, and the body's fields (nested under bpmsCallBackData, roleLabelChange or
 * callbackData for some tags) come up to the top with console names.
 */
export function payloadFromFailedEntry(entry: FailedEntry): Json {
  const body = failedBody(entry);
  const out: Json = { EventType: entry.call_back_tag.trim() };
  const time = epochMs(entry.event_time);
  if (time !== undefined) out.EventTime = time;
  const corpId = corpIdOf(entry);
  if (corpId !== undefined) out.CorpId = corpId;
  for (const [key, value] of Object.entries(body)) {
    if (key === 'corpid' || key === 'corpId' || key === 'CorpId') continue;
    if (['bpmsCallBackData', 'roleLabelChange', 'callbackData'].includes(key) && isObject(value)) Object.assign(out, value);
    else if (key === 'userid') out.userId = value;
    else if (key === 'deptid') out.deptId = value;
    else out[LEGACY_FIELD_NAMES[key] ?? key] = value;
  }
  return out;
}

/** A Stream frame's business data (its `data` JSON string), or undefined when it is not a JSON object. */
export function streamData(frame: StreamFrame): Json | undefined {
  let data = frame.data;
  if (typeof data === 'string') {
    try {
      data = JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  return isObject(data) ? data : undefined;
}

// --- the same event from different sources ------------------------------------------------------

const ID_FIELDS = ['userId', 'deptId', 'userIdList', 'labelIdList', 'chatId', 'staffId', 'processInstanceId'] as const;
const APPROVAL_FIELDS = ['processInstanceId', 'type', 'result', 'taskId', 'staffId'] as const;

const sortedIfArray = (value: unknown): unknown => (Array.isArray(value) ? value.map(String).sort() : value);

/**
 * A key that is equal for the same event whichever way it arrived (live push, legacy push, failed-list
 * entry), computed from its console-shaped payload (protocol §9.4): type and corp, plus for approvals
 * the instance, type, result and task; for other events the event time and the ids they name.
 * Undefined when the payload has too little to tell two events apart: no instance for an approval, no
 * time or no id for the others (two clock-ins of different people in the same millisecond carry their
 * users inside a list and would otherwise share a key, and the second would be taken for the first).
 * The key says nothing about which app received the event: callers scope it (scopeContentKey).
 */
export function contentKeyOf(payload: Json): string | undefined {
  const type = eventTypeOf(payload);
  if (!type) return undefined;
  const corp = corpIdOf(payload) ?? '';
  const key: Json = { t: type, c: corp };
  if (groupOf(type) === 'approval') {
    if (typeof payload.processInstanceId !== 'string') return undefined;
    for (const f of APPROVAL_FIELDS) if (payload[f] !== undefined) key[f] = String(payload[f]);
  } else {
    const time = eventTimeOf(payload);
    if (time === undefined) return undefined;
    key.time = time;
    let named = false;
    for (const f of ID_FIELDS) {
      if (payload[f] === undefined) continue;
      key[f] = sortedIfArray(payload[f]);
      named = true;
    }
    if (!named) return undefined;
  }
  return 'key:' + contentId(canonicalJson(key)).slice('sha256:'.length);
}

/**
 * A content key for one app's events: two apps of one company subscribed to the same events each
 * receive them (with different event ids), and each app's receivers must emit them.
 */
export function scopeContentKey(app: string, key: string | undefined): string | undefined {
  return key === undefined ? undefined : `${app}/${key}`;
}
