/**
 * Hand-off of acknowledged events to the flow, shared by the HTTP and Stream receivers. An inbox row
 * stays "pending" until it is SETTLE_MS old, by which time every dispatch node has long queued it;
 * pending rows are emitted again after a restart, flagged, and dispatch outboxes ignore repeats.
 */
import type { ReceivedEvent } from '../receiver';
import type { EventStore } from './event-store';

export const SETTLE_MS = 30_000;
export const HANDOFF_CHECK_MS = 5_000;

/** The receiver's events that may not have reached every dispatch node, flagged as redelivered. */
export function pendingRedeliveries(store: EventStore, receiver: string): ReceivedEvent[] {
  return store.pendingInbox(receiver).map((row) => {
    const message = JSON.parse(row.message) as ReceivedEvent;
    message.dingtalk.redelivered = true;
    return message;
  });
}

/** Marks the receiver's events older than the settle time as handed on. */
export function settleHandoffs(store: EventStore, receiver: string, now = Date.now()): number {
  return store.markHanded(receiver, now - SETTLE_MS);
}
