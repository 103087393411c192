/**
 * Poison events: pushes that are authentic (signature verified, decrypted, meant for this app) but
 * cannot be processed, because their plaintext is not JSON, not a JSON object, or nested far deeper
 * than any DingTalk event. Answering them with an error would make DingTalk push them again forever,
 * and storing them is no option (a deep value overflows the stack of JSON.stringify inside the
 * store), so the receivers acknowledge them, never store or emit them, and report them to the flow
 * through node.error (a catch node gets them) and one log line.
 */
import { contentId, type EventSource } from './events';
import { forLog } from './log-escape';

// Kept importable from here for existing callers.
export { forLog };

/**
 * The deepest nesting of objects and arrays a payload may have (the payload object itself is level 1).
 * DingTalk payloads are about 5 deep; 100 leaves room for any real event and keeps every recursive
 * walk of a payload (JSON.stringify in the store, canonicalJson) far from the stack limit.
 */
export const MAX_PAYLOAD_DEPTH = 100;

export type PoisonReason = 'not-json' | 'not-object' | 'too-deep';

/** What a receiver reports about a poison event. */
export interface PoisonEvent {
  reason: PoisonReason;
  /** The decrypted text (HTTP) or the frame's data string (Stream), as received. */
  plaintext: string;
  length: number;
  /** DingTalk's eventId when the push names one outside the payload (Stream headers), else contentId(plaintext). */
  id: string;
  /** '' when the type is inside the unreadable payload (HTTP); the frame header's for Stream. */
  eventType: string;
  receivedAt: number;
  source: EventSource;
}

const isContainer = (value: unknown): value is object => value !== null && typeof value === 'object';

/**
 * True when `value` nests objects/arrays more than `max` levels deep. Iterative on purpose: a
 * recursive walk would itself overflow the stack on the values it is meant to catch. Stops at the
 * first branch that is too deep; a cyclic value (never produced by JSON.parse) also counts as too deep.
 */
export function deeperThan(value: unknown, max: number): boolean {
  if (!isContainer(value)) return false;
  const stack: object[] = [value];
  const depths: number[] = [1];
  while (stack.length > 0) {
    const current = stack.pop() as object;
    const depth = depths.pop() as number;
    if (depth > max) return true;
    const children: Iterable<unknown> = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) {
      if (isContainer(child)) {
        stack.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}

export type PayloadReading = { ok: true; payload: Record<string, unknown> } | { ok: false; reason: PoisonReason };

/** A decrypted plaintext as an event payload, or why it cannot be one. */
export function readPayload(text: string): PayloadReading {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // SyntaxError, or a RangeError should a JSON engine give up on extreme nesting: not JSON either way.
    return { ok: false, reason: 'not-json' };
  }
  if (!isContainer(value) || Array.isArray(value)) return { ok: false, reason: 'not-object' };
  if (deeperThan(value, MAX_PAYLOAD_DEPTH)) return { ok: false, reason: 'too-deep' };
  return { ok: true, payload: value as Record<string, unknown> };
}

export function poisonEvent(
  reason: PoisonReason,
  plaintext: string,
  facts: { source: EventSource; receivedAt: number; id?: string; eventType?: string },
): PoisonEvent {
  return {
    reason,
    plaintext,
    length: plaintext.length,
    id: facts.id ?? contentId(plaintext),
    eventType: facts.eventType ?? '',
    receivedAt: facts.receivedAt,
    source: facts.source,
  };
}

/**
 * The message handed to node.error for a catch node: the plaintext as payload (a string, so debug
 * and file nodes can show or keep it whatever it holds) and msg.dingtalk.poison naming the reason.
 */
export function poisonMessage(poison: PoisonEvent): {
  topic: string;
  payload: string;
  dingtalk: { eventId: string; eventType: string; receivedAt: number; source: EventSource; poison: PoisonReason };
} {
  return {
    topic: poison.eventType,
    payload: poison.plaintext,
    dingtalk: { eventId: poison.id, eventType: poison.eventType, receivedAt: poison.receivedAt, source: poison.source, poison: poison.reason },
  };
}

/** Parameters for a receiver's one warning line about a poison event. */
export function poisonLogParams(poison: PoisonEvent): { reason: PoisonReason; length: number; id: string; start: string } {
  return { reason: poison.reason, length: poison.length, id: forLog(poison.id), start: forLog(poison.plaintext) };
}
