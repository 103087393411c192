/**
 * One Stream connection per app, shared by every `dingtalk-stream-in` node of that app. Each EVENT
 * frame goes through the durable intake first (the same inbox and de-duplication as HTTP pushes and
 * recovery); only a stored event is acknowledged SUCCESS and handed on (to `emit`, the app's hand-off,
 * which sends it to the listeners through send()), a duplicate is acknowledged without being emitted,
 * and a store failure is answered LATER so DingTalk sends it again.
 * A frame whose data nests too deep (poison.ts) is acknowledged SUCCESS, never stored, and reported.
 */
import { contentId, contentKeyOf, describeEvent, type EventSource, isStreamFrame, streamData } from '../events';
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

/** What became of a frame: stored and emitted, a duplicate, unreadable, or unprocessable (poison). */
export type FrameVerdict = 'new' | 'duplicate' | 'bad' | 'poison';

export class StreamHub {
  private readonly listeners = new Set<StreamListener>();
  private client: StreamClient | undefined;
  private lastState: StreamState = { state: 'stopped' };

  /**
   * `emit` takes each stored event (the app's hand-off tracker, which calls send() once the flows run,
   * and again for events whose messages were lost in a deploy); without it events go straight to send().
   */
  constructor(
    private readonly options: Omit<StreamClientOptions, 'onEvent' | 'onState'>,
    private readonly intake: EventIntake,
    private readonly emit: (message: ReceivedEvent) => void = (message) => void this.send(message),
    /** Told of each event frame's outcome once (not once per listener), for the hub's counters. */
    private readonly tally: (outcome: 'new' | 'duplicate' | 'poison', source: EventSource) => void = () => undefined,
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

  /**
   * Gives a stored event to every listener, each its own copy passed through `stamp` (the hand-off
   * tracker's message id); false when no node listens (a deploy is replacing them).
   */
  send(message: ReceivedEvent, stamp: (m: ReceivedEvent) => ReceivedEvent = (m) => m): boolean {
    if (this.listeners.size === 0) return false;
    let first = true;
    for (const l of this.listeners) {
      l.onEvent(stamp(first ? message : (JSON.parse(JSON.stringify(message)) as ReceivedEvent)));
      first = false;
    }
    return true;
  }

  private onState(state: StreamState): void {
    this.lastState = state;
    for (const l of this.listeners) l.onState(state);
  }

  /**
   * The editor's "send test event": a frame built by the runtime goes through the same intake as one from
   * DingTalk (stored, de-duplicated, emitted), with source "test". Rejects when the store cannot take it.
   */
  async test(frame: StreamFrame): Promise<FrameVerdict> {
    return (await this.take(frame, 'test')).verdict;
  }

  private async onEvent(frame: StreamFrame): Promise<'SUCCESS' | 'LATER'> {
    return (await this.take(frame, 'stream')).ack;
  }

  private async take(frame: StreamFrame, source: EventSource): Promise<{ ack: 'SUCCESS' | 'LATER'; verdict: FrameVerdict }> {
    const data = isStreamFrame(frame) ? streamData(frame) : undefined;
    if (!data) {
      // Unreadable: sending it again would not help. Acknowledge, and say so.
      for (const l of this.listeners) l.onBadFrame?.(frame.headers?.messageId ?? '');
      return { ack: 'SUCCESS', verdict: 'bad' };
    }
    if (deeperThan(data, MAX_PAYLOAD_DEPTH)) {
      // Storing it would overflow the stack, and LATER would bring it back forever. The headers are
      // readable, so they give the id and type (describeEvent could hash the deep frame: not here).
      const { headers } = frame; // isStreamFrame checked them: an object with a string eventType
      const text = typeof frame.data === 'string' ? frame.data : ''; // DingTalk always sends a string
      const id = typeof headers.eventId === 'string' && headers.eventId.length > 0 ? headers.eventId : contentId(text);
      const eventType = headers.eventType.trim();
      const poison = poisonEvent('too-deep', text, { source, receivedAt: Date.now(), id, eventType });
      // No node to report it to only while the last one closes the connection: the next one gets it.
      if (this.listeners.size === 0) return { ack: 'LATER', verdict: 'poison' };
      for (const l of this.listeners) l.onPoison?.(poison);
      this.tally('poison', source);
      return { ack: 'SUCCESS', verdict: 'poison' };
    }
    const dingtalk = describeEvent(frame, source);
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
    this.tally(verdict, source);
    if (verdict === 'new') this.emit(message);
    return { ack: 'SUCCESS', verdict };
  }
}
