/**
 * A Stream EVENT frame for a sample event, as DingTalk's gateway sends one: the envelope (type, id, time,
 * corp) in the headers and the business fields as a JSON string in `data`. For the editor's "send test
 * event" on dingtalk-stream-in, which passes it to the app's hub like a frame from the connection.
 * Only company-app events (the developer-console shape) come over Stream: the old ISV shapes have none.
 */
import { randomBytes } from 'node:crypto';
import { sampleEvent, sampleEventTypes } from '../sample-events';
import type { StreamFrame } from './client';

const ENVELOPE = new Set(['EventType', 'EventTime', 'CorpId', 'BizId', 'eventId']);

/** The sample types that have a Stream shape (those with an event id). */
export function sampleStreamTypes(): string[] {
  return sampleEventTypes().filter((type) => typeof sampleEvent(type).eventId === 'string');
}

/** A fresh frame of `type`; throws for a type without a Stream shape. */
export function sampleStreamFrame(type: string, opts: { corpId?: string; now?: number } = {}): StreamFrame {
  const event = sampleEvent(type, opts);
  if (typeof event.eventId !== 'string') throw new Error(`event type "${type}" has no Stream shape`);
  const data = Object.fromEntries(Object.entries(event).filter(([key]) => !ENVELOPE.has(key)));
  return {
    specVersion: '1.0',
    type: 'EVENT',
    headers: {
      contentType: 'application/json',
      messageId: `test_${randomBytes(8).toString('hex')}`,
      time: String(event.EventTime),
      topic: '*',
      eventType: type,
      eventId: event.eventId,
      eventBornTime: String(event.EventTime),
      eventCorpId: String(event.CorpId),
    },
    data: JSON.stringify(data),
  };
}
