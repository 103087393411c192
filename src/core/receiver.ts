/**
 * The HTTP callback receiver's decision for one request: given the method, query and body, say what
 * to answer and whether there is an event to emit. The order is the protocol's (§7): check the
 * request shape, verify, decrypt, check the receive id, parse; then hand the event to the intake
 * (the durable inbox, which also de-duplicates) and only once it is stored answer "success".
 * Nothing is emitted unless every step passed. An authentic push whose plaintext cannot be an event
 * (poison.ts) is answered "success" too, so DingTalk stops retrying it, but never reaches the intake.
 */
import type { CallbackCrypto, Problem } from './app-config';
import { CipherError, type CipherErrorCode, SUITE_PLACEHOLDER_RECEIVE_ID, type SignedEnvelope } from './cipher';
import { contentKeyOf, describeEvent, type EventInfo, eventTypeOf, normalisePayload, URL_CHECK_EVENTS } from './events';
import type { BodyResult } from './http/read-body';
import { forLog } from './log-escape';
import { type PoisonEvent, poisonEvent, readPayload } from './poison';
import { checkPushAge, type Freshness } from './push-age';

export type RejectCode =
  | 'method-not-allowed'
  | 'bad-request'
  | 'too-large'
  | 'body-timeout'
  | 'bad-timestamp'
  | 'not-configured'
  | 'bad-payload'
  | 'store-unavailable'
  | CipherErrorCode;

export interface ReceivedEvent {
  topic: string;
  payload: Record<string, unknown>;
  dingtalk: EventInfo;
}

export type Outcome =
  | { kind: 'event'; status: 200; reply: SignedEnvelope; event: ReceivedEvent }
  | { kind: 'duplicate'; status: 200; reply: SignedEnvelope; eventId: string; eventType: string }
  | { kind: 'check'; status: 200; reply: SignedEnvelope; eventType: string }
  /** Authentic but not an event (not JSON, not an object, too deep): acknowledged, never stored. */
  | ({ kind: 'poison'; status: 200; reply: SignedEnvelope } & PoisonEvent)
  | {
      kind: 'rejected';
      status: RejectStatus;
      code: RejectCode;
      reason: string;
      /** For receive-id-mismatch: the id the push was encrypted for. */
      found?: string;
      /** For bad-timestamp: why the signed time is refused, and how old it is (negative: ahead). */
      age?: { problem: 'unreadable' | 'too-old' | 'ahead'; ageMs?: number; maxAgeMs: number; maxAheadMs: number };
      /** For not-configured: the configuration problem, to translate for the log. */
      problem?: Problem;
    };

export interface ReceiverRequest {
  method: string | undefined;
  query: Record<string, unknown>;
  body: BodyResult;
  /**
   * 'test' for the editor's "Send test event" push, which the node recognises by a per-node header
   * only the runtime knows; the push itself goes through the same checks as DingTalk's.
   */
  source?: 'http' | 'test';
}

/**
 * Where accepted events go before DingTalk is answered: resolves 'new' once the event is durable,
 * 'duplicate' when it was received before (the event store's inbox).
 */
export type EventIntake = (eventId: string, message: ReceivedEvent, contentKey?: string) => Promise<'new' | 'duplicate'>;

/** What the receiver needs from the app: its crypto, or why it has none. */
export type CryptoSource = () => { ok: true; value: CallbackCrypto } | { ok: false; problem: Problem };

type RejectStatus = 400 | 403 | 405 | 408 | 413 | 503;

const STATUS_FOR: Record<RejectCode, RejectStatus> = {
  'method-not-allowed': 405,
  'bad-request': 400,
  'too-large': 413,
  'body-timeout': 408,
  'bad-timestamp': 403,
  'not-configured': 503,
  'bad-payload': 400,
  'store-unavailable': 503,
  'bad-signature': 403,
  'bad-ciphertext': 400,
  'bad-padding': 400,
  'bad-length': 400,
  'receive-id-mismatch': 400,
  'bad-utf8': 400,
  'bad-aes-key': 503,
  'bad-token': 503,
};

type RejectExtra = Partial<Pick<Extract<Outcome, { kind: 'rejected' }>, 'found' | 'problem' | 'age'>>;

function reject(code: RejectCode, reason: string, extra: RejectExtra = {}): Outcome {
  return { kind: 'rejected', status: STATUS_FOR[code], code, reason, ...extra };
}

function queryString(query: Record<string, unknown>, ...names: string[]): string | undefined {
  for (const name of names) {
    const value = query[name];
    if (typeof value === 'string' && value.length > 0) return value;
  }
  return undefined;
}

/** The `encrypt` field of the body, or the reason the body is not a DingTalk push. */
function encryptField(body: BodyResult): { encrypt: string } | { error: string } {
  let value: unknown;
  if (body.kind === 'parsed') {
    value = body.value;
  } else if (body.kind === 'raw') {
    try {
      value = JSON.parse(body.bytes.toString('utf8'));
    } catch {
      return { error: 'body is not JSON' };
    }
  } else {
    return { error: 'body could not be read' };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { error: 'body is not a JSON object' };
  const encrypt = (value as Record<string, unknown>).encrypt;
  if (typeof encrypt !== 'string' || encrypt.length === 0) return { error: 'body has no "encrypt" string' };
  return { encrypt };
}

export interface ReceiverOptions {
  /** Rewrite legacy payloads to the developer-console shape (events.ts normalisePayload). */
  normalise?: boolean;
  now?: () => number;
  /** The app that receives the pushes: part of the id of events that carry no eventId (events.ts). */
  scope?: string;
  /**
   * Refuse pushes whose signed timestamp is outside this window (push-age.ts): a captured push
   * replayed after the inbox forgot its id would otherwise be a new event. Unset: no check.
   */
  freshness?: Freshness;
}

export class CallbackReceiver {
  private readonly normalise: boolean;
  private readonly now: () => number;
  private readonly scope: string | undefined;
  private readonly freshness: Freshness | undefined;

  constructor(
    private readonly crypto: CryptoSource,
    private readonly intake: EventIntake,
    options: ReceiverOptions = {},
  ) {
    this.normalise = options.normalise ?? false;
    this.now = options.now ?? Date.now;
    this.scope = options.scope;
    this.freshness = options.freshness;
  }

  async handle(request: ReceiverRequest): Promise<Outcome> {
    if ((request.method ?? '').toUpperCase() !== 'POST') {
      return reject('method-not-allowed', `method ${request.method} is not allowed; DingTalk pushes with POST`);
    }
    if (request.body.kind === 'too-large') {
      return reject('too-large', `body of ${request.body.size} bytes is over the limit`);
    }
    if (request.body.kind === 'timeout') {
      return reject('body-timeout', `the body did not arrive within ${Math.round(request.body.afterMs / 1000)} s`);
    }
    if (request.body.kind === 'bad-encoding') {
      // A header value: its latin1 bytes can hold C1 controls, which JSON.stringify leaves raw.
      return reject('bad-request', `Content-Encoding ${forLog(request.body.encoding, 40)} cannot be decoded`);
    }
    const field = encryptField(request.body);
    if ('error' in field) return reject('bad-request', field.error);
    const signature = queryString(request.query, 'msg_signature', 'signature');
    const timestamp = queryString(request.query, 'timestamp', 'timeStamp');
    const nonce = queryString(request.query, 'nonce');
    if (signature === undefined || timestamp === undefined || nonce === undefined) {
      return reject('bad-request', 'query must carry msg_signature (or signature), timestamp and nonce');
    }

    const source = this.crypto();
    if (!source.ok) return reject('not-configured', 'the DingTalk app is not configured', { problem: source.problem });
    const { cipher, acceptedIds } = source.value;

    let plaintext: string;
    let receiveId: string;
    try {
      ({ plaintext, receiveId } = cipher.open({ signature, timestamp, nonce, encrypt: field.encrypt }, acceptedIds));
    } catch (err) {
      if (err instanceof CipherError) return reject(err.code, err.message, err.found !== undefined ? { found: err.found } : {});
      throw err;
    }
    // Checked once the signature proves the timestamp is DingTalk's, before anything is stored.
    if (this.freshness) {
      const verdict = checkPushAge(timestamp, this.now(), this.freshness);
      if (!verdict.ok) {
        const age = { problem: verdict.problem, ageMs: verdict.problem === 'unreadable' ? undefined : verdict.ageMs, ...this.freshness };
        const reason =
          verdict.problem === 'unreadable'
            ? 'the signed timestamp is not a time in ms'
            : verdict.problem === 'too-old'
              ? `the push was signed ${Math.round(verdict.ageMs / 1000)} s ago; at most ${Math.round(this.freshness.maxAgeMs / 1000)} s are accepted`
              : `the push is dated ${Math.round(-verdict.ageMs / 1000)} s ahead of this server's clock; at most ${Math.round(this.freshness.maxAheadMs / 1000)} s are accepted`;
        return reject('bad-timestamp', reason, { age });
      }
    }

    const reading = readPayload(plaintext);
    const eventType = reading.ok ? eventTypeOf(reading.payload) : '';

    // The ISV placeholder id is only legitimate on the suite-creation check (protocol §4).
    if (receiveId === SUITE_PLACEHOLDER_RECEIVE_ID && eventType !== 'check_create_suite_url' && acceptedIds[0] !== receiveId) {
      return reject('receive-id-mismatch', `receive id "${receiveId}" is only valid for check_create_suite_url`, { found: receiveId });
    }

    // Acknowledge with the id the push was encrypted for, so ISV suite checks verify too.
    const reply = cipher.seal('success', receiveId, this.now());
    if (!reading.ok) {
      const poison = poisonEvent(reading.reason, plaintext, { source: request.source ?? 'http', receivedAt: this.now() });
      return { kind: 'poison', status: 200, reply, ...poison };
    }
    const event = reading.payload;
    const info = describeEvent(event, request.source ?? 'http', { plaintext, receivedAt: this.now(), scope: this.scope });
    if (URL_CHECK_EVENTS.has(info.eventType)) return { kind: 'check', status: 200, reply, eventType: info.eventType };
    // The console shape gives the content key (cross-source de-dup) and, if asked, the payload.
    const consoleShape = normalisePayload(event);
    const emitted = this.normalise ? consoleShape : event;
    const message: ReceivedEvent = { topic: info.eventType, payload: emitted, dingtalk: info };
    let verdict: 'new' | 'duplicate';
    try {
      verdict = await this.intake(info.eventId, message, contentKeyOf(consoleShape));
    } catch (err) {
      // Not durable, so not acknowledged: DingTalk will push it again.
      return reject('store-unavailable', `the event could not be stored: ${(err as Error).message}`);
    }
    if (verdict === 'duplicate') return { kind: 'duplicate', status: 200, reply, eventId: info.eventId, eventType: info.eventType };
    return { kind: 'event', status: 200, reply, event: message };
  }
}
