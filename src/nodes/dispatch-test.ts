/**
 * The editor's "send test delivery" on dingtalk-dispatch: one sample event built, signed (or encrypted, in
 * the DingTalk-compatible format) and sent exactly like a real delivery, but once and outside the outbox:
 * no retry, no dead letter, nothing on the outputs. A failure is a code with parameters that the editor
 * renders as dingtalk-dispatch.test.errors.<error>, in its own language.
 */
import type { Agents } from '../core/delivery/http-send';
import { DeliveryError, httpSend } from '../core/delivery/http-send';
import { buildAttempt, type EventMessage, type FormatOptions, storedEvent } from '../core/delivery/formats';
import { describeEvent } from '../core/events';
import { sampleEvent, sampleEventTypes } from '../core/sample-events';

export type TestDeliveryResult =
  | { ok: true; eventType: string; status: number; ms: number }
  | { ok: false; error: string; params?: Record<string, string | number> };

/** The sample sent: an approval change, unless the node's event types leave it out. */
const PREFERRED_TYPE = 'bpms_instance_change';

export interface TestDeliveryTarget {
  format: FormatOptions;
  method: string;
  timeoutMs: number;
  agents: Agents;
  /** The node's event-type filter. */
  accepts(type: string): boolean;
}

/** The sample type for a node: the preferred one if its filter takes it, else the first sample it takes. */
export function testEventType(accepts: (type: string) => boolean): string {
  const types = sampleEventTypes().filter((type) => accepts(type) && !type.startsWith('check_'));
  return types.includes(PREFERRED_TYPE) ? PREFERRED_TYPE : (types[0] ?? PREFERRED_TYPE);
}

export async function sendTestDelivery(target: TestDeliveryTarget): Promise<TestDeliveryResult> {
  const type = testEventType(target.accepts);
  const payload = sampleEvent(type);
  const message: EventMessage = { topic: type, payload, dingtalk: { ...describeEvent(payload, 'test') } };
  const attempt = buildAttempt(target.format, message.dingtalk?.eventId ?? '', storedEvent(message), Date.now());
  const started = Date.now();
  let result;
  try {
    result = await httpSend(attempt.url, { method: target.method, headers: attempt.headers, body: attempt.body, timeoutMs: target.timeoutMs, agents: target.agents });
  } catch (err) {
    if (err instanceof DeliveryError && err.code === 'timeout') return { ok: false, error: 'timeout', params: { seconds: target.timeoutMs / 1000 } };
    return { ok: false, error: 'network', params: { url: target.format.url, code: (err as DeliveryError).code ?? 'error' } };
  }
  const ms = Date.now() - started;
  if (result.status < 200 || result.status >= 300) return { ok: false, error: 'status', params: { status: result.status } };
  if (!attempt.accept(result).ok) return { ok: false, error: 'reply', params: { status: result.status } };
  return { ok: true, eventType: type, status: result.status, ms };
}
