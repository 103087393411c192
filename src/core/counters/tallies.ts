/**
 * What a receiver and a dispatch node count, in the names of counter-names.ts, through the store's
 * CountBatcher (in memory, added to the store about once a second). Their statuses read the numbers back
 * from the same batcher: the store's totals plus what was counted since, so a deploy or a restart does
 * not reset them.
 */
import type { CountBatcher } from './count-batcher';
import {
  counterNames as names,
  type DeliveryOutcome,
  emptyReceiverCounts,
  emptySubscriberCounts,
  type EventSource,
  hubCounts,
  type ReceiverCounts,
  type SubscriberCounts,
} from './counter-names';

export class ReceiverTally {
  constructor(
    private readonly counters: CountBatcher,
    /** The receiver's key: the dingtalk-event-in node's id, or the app's Stream receiver key. */
    readonly receiver: string,
    /** The receiving app's AppKey ('' when none). */
    private readonly app: string,
  ) {}

  /** An event stored and emitted. */
  received(source: EventSource | string, at = Date.now()): void {
    this.counters.count(names.received(this.receiver, this.app, source));
    this.counters.mark(names.lastEvent(this.receiver), at);
    this.counters.perMinute(names.hubMinutes, at);
    this.counters.perMinute(names.receiverMinutes(this.receiver), at);
  }

  /** An event the app had already: acknowledged, not emitted. */
  duplicate(source: EventSource | string, at = Date.now()): void {
    this.counters.count(names.duplicate(this.receiver, this.app, source));
    this.counters.mark(names.lastEvent(this.receiver), at);
  }

  rejected(code: string): void {
    this.counters.count(names.rejected(this.receiver, code));
  }

  poison(source: EventSource | string): void {
    this.counters.count(names.poison(this.receiver, source));
  }

  private cached: { version: number; counts: ReceiverCounts } | undefined;

  /** This receiver's numbers, kept across deploys and restarts (read again only when they changed). */
  counts(): ReceiverCounts {
    if (this.cached?.version === this.counters.version) return this.cached.counts;
    const { receivers } = hubCounts(this.counters.totals(), this.counters.latest());
    this.cached = { version: this.counters.version, counts: receivers[this.receiver] ?? emptyReceiverCounts() };
    return this.cached.counts;
  }
}

export class DeliveryTally {
  constructor(
    private readonly counters: CountBatcher,
    /** The dispatch node's id. */
    readonly subscriber: string,
  ) {}

  /** One attempt's outcome: delivered, failed (to be retried) or dead (failed, dead-lettered). */
  attempt(outcome: DeliveryOutcome, at = Date.now()): void {
    this.counters.count(names.delivery(this.subscriber, outcome));
    if (outcome === 'delivered') this.counters.perMinute(names.deliveredMinutes(this.subscriber), at);
  }

  counts(): SubscriberCounts {
    return hubCounts(this.counters.totals()).subscribers[this.subscriber] ?? emptySubscriberCounts();
  }
}
