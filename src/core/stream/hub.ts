/**
 * One Stream connection per app, shared by every `dingtalk-stream-in` node of that app. Each EVENT
 * frame goes through the durable intake first (the same inbox and de-duplication as HTTP pushes and
 * recovery); only a stored event is acknowledged SUCCESS and handed to the listeners, a duplicate is
 * acknowledged without being emitted, and a store failure is answered LATER so DingTalk sends it again.
 * A frame whose data nests too deep (poison.ts) is acknowledged SUCCESS, never stored, and reported.
 */
import { contentId, contentKeyOf, describeEvent, isStreamFrame, streamData } from '../events';
import { deeperThan, MAX_PAYLOAD_DEPTH, type PoisonEvent, poisonEvent } from '../poison';
import type { EventIntake, ReceivedEvent } from '../receiver';
import { type StreamClientOptions, type StreamFrame, type StreamState, StreamClient } from './client';

export interface StreamListener {
  onEvent(message: ReceivedEvent): void;
  onState(state: StreamState): void;
  onBadFrame?(messageId: string): void;
  /** A frame whose data is readable but cannot be an event (too deep): acknowledged, not stored. */
  onPoison?(poison: PoisonEvent): void;
  /** After each event's trip to the store: the error when it could not be stored, else undefined. */
  onStore?(error: unknown): void;
}

export class StreamHub {
  private readonly listeners = new Set<StreamListener>();
  private client: StreamClient | undefined;
  private lastState: StreamState = { state: 'stopped' };
  /**
   * Events stored while no node listened: a deploy replaced this app's stream-in nodes while an event
   * was being stored. They were acknowledged, so a resend would be a duplicate: they wait for flushHeld().
   */
  private held: ReceivedEvent[] = [];

  constructor(
    private readonly options: Omit<StreamClientOptions, 'onEvent' | 'onState'>,
    private readonly intake: EventIntake,
  ) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Adds a listener; the first one opens the connection. */
  add(listener: StreamListener): void {
    this.listeners.add(listener);
    listener.onState(this.lastState);
    if (!this.client) {
      this.client = new StreamClient({ ...this.options, onEvent: (frame) => this.onEvent(frame), onState: (s) => this.onState(s) });
      this.client.start();
    }
  }

  /** Removes a listener; the last one closes the connection and its timers. */
  async remove(listener: StreamListener): Promise<void> {
    this.listeners.delete(listener);
    if (this.listeners.size === 0 && this.client) {
      const client = this.client;
      this.client = undefined;
      await client.stop();
    }
  }

  /** Emits the events held while no node listened (called once the flows have started again). */
  flushHeld(): void {
    if (this.listeners.size === 0 || this.held.length === 0) return;
    const held = this.held;
    this.held = [];
    for (const message of held) for (const l of this.listeners) l.onEvent(message);
  }

  /** Hands already stored events (store/handoff pendingRedeliveries) to the listeners again. */
  redeliver(messages: ReceivedEvent[]): void {
    for (const message of messages) for (const l of this.listeners) l.onEvent(message);
  }

  private onState(state: StreamState): void {
    this.lastState = state;
    for (const l of this.listeners) l.onState(state);
  }

  private async onEvent(frame: StreamFrame): Promise<'SUCCESS' | 'LATER'> {
    const data = isStreamFrame(frame) ? streamData(frame) : undefined;
    if (!data) {
      // Unreadable: sending it again would not help. Acknowledge, and say so.
      for (const l of this.listeners) l.onBadFrame?.(frame.headers?.messageId ?? '');
      return 'SUCCESS';
    }
    if (deeperThan(data, MAX_PAYLOAD_DEPTH)) {
      // Storing it would overflow the stack, and LATER would bring it back forever. The headers are
      // readable, so they give the id and type (describeEvent could hash the deep frame: not here).
      const { headers } = frame; // isStreamFrame checked them: an object with a string eventType
      const text = typeof frame.data === 'string' ? frame.data : ''; // DingTalk always sends a string
      const id = typeof headers.eventId === 'string' && headers.eventId.length > 0 ? headers.eventId : contentId(text);
      const eventType = headers.eventType.trim();
      const poison = poisonEvent('too-deep', text, { source: 'stream', receivedAt: Date.now(), id, eventType });
      // No node to report it to only while the last one closes the connection: the next one gets it.
      if (this.listeners.size === 0) return 'LATER';
      for (const l of this.listeners) l.onPoison?.(poison);
      return 'SUCCESS';
    }
    const dingtalk = describeEvent(frame, 'stream');
    const message: ReceivedEvent = { topic: dingtalk.eventType, payload: data, dingtalk };
    const consoleShape = { EventType: dingtalk.eventType, EventTime: dingtalk.eventTime, CorpId: dingtalk.corpId, ...data };
    let verdict: 'new' | 'duplicate';
    try {
      verdict = await this.intake(dingtalk.eventId, message, contentKeyOf(consoleShape));
    } catch (err) {
      for (const l of this.listeners) l.onStore?.(err);
      throw err; // -> LATER
    }
    for (const l of this.listeners) l.onStore?.(undefined);
    if (verdict === 'new') {
      if (this.listeners.size === 0) this.held.push(message);
      else for (const l of this.listeners) l.onEvent(message);
    }
    return 'SUCCESS';
  }
}
