/**
 * The one contract every store back end of the hub implements (the embedded SQLite file today, a shared
 * server later): everything the receivers, the hand-off tracker, the dispatch nodes, their delivery
 * workers and the housekeeper ask of durable state. Every call is asynchronous, so a back end that talks
 * to a server over the network fits behind it; nothing outside a back end may assume an answer arrives in
 * the same turn of the event loop.
 *
 * Inbox: events a receiver acknowledged. It is also the de-duplication window: an event id, and a content
 * key, is recognised per scope (the app that received it) until the housekeeper prunes it. Each accepted
 * event is "pending" for the instance that accepted it and its receiver until markHanded: hand-off state is
 * keyed by (instanceId, receiver key), because every instance of a scaled-out hub runs nodes with the same
 * ids. A back end with a single process (SQLite) has a single instance id.
 *
 * Outbox: one delivery per (subscriber, event). A worker claims due deliveries with a lease; each claim
 * carries a fencing token, and an outcome is recorded only with the token of the latest claim, so a worker
 * whose lease ran out (and whose delivery another worker claimed) cannot overwrite the newer attempt. A
 * lease that runs out without an outcome makes the delivery claimable again (its holder died or hung).
 * Ordered mode: only a subscriber's oldest queued delivery (the head) may be claimed, and only while no
 * one holds it.
 *
 * The circuit breaker: each worker keeps its own; a back end shared by several processes keeps a shared
 * one too (FailedOutcome.breakerThreshold), so that an endpoint that is down is probed by one instance at
 * a time, not hammered by all of them.
 *
 * Counters (counter-store.ts): totals, latest times and per-minute counts that outlive deploys and
 * restarts, only ever added to, so that several instances add up.
 */
import type { Delivery, DeliveryState, InboxRow, OrphanKind, OrphanMark } from './event-store';
import type { CounterStore } from './counter-store';
import type { EventQuery, EventSearchResult, StoredEvent } from './event-query';

export type { Delivery, DeliveryState, InboxRow, OrphanKind, OrphanMark };
export type { CounterBatch, CounterSnapshot, CounterStore, MinutePoint } from './counter-store';
export type { EventQuery, EventSearchResult, StoredEvent };

/** A delivery taken by a worker: attempt it, then record the outcome with `token`. */
export interface Claim {
  delivery: Delivery;
  /** The fencing token of this claim: only the latest claim's token records an outcome. */
  token: string;
  /** When the lease ends (store clock, ms); afterwards the delivery may be claimed again. */
  leaseUntil: number;
}

export interface ClaimOptions {
  /** At most this many deliveries (ordered mode: at most 1). */
  limit: number;
  /** How long the claim holds the delivery: the attempt's timeout plus a margin. */
  leaseMs: number;
  /** Only the head of the queue, strictly in queue order. */
  ordered: boolean;
}

/**
 * A failed attempt: queued again `retryInMs` from now on the store's clock (never a worker's: the clocks
 * of several machines disagree), or a dead letter when `retryInMs` is undefined.
 */
export interface FailedOutcome {
  retryInMs?: number;
  /**
   * The subscriber's breaker opens after this many failures in a row (a back end shared by several
   * instances keeps the count, so that every instance holds back: until this retry's due time nothing is
   * claimable, then one probe at a time until a success). A single-process back end leaves the breaker to
   * its one worker and ignores it.
   */
  breakerThreshold?: number;
  status?: number;
  error?: string;
}

/** The inbox: acceptance with de-duplication, and hand-off state. */
export interface InboxStore {
  /** This process's id: the key of its hand-off state (with the receiver key). */
  readonly instanceId: string;
  /**
   * Records an event `receiver` received for the app `scope` unless that app already has its id, or its
   * `contentKey` (already scoped to the app). Resolves 'new' only once the event is durable (only then may
   * DingTalk be told `success`), 'duplicate' when the app has it; rejects when it could not be stored.
   */
  accept(eventId: string, receiver: string, message: unknown, contentKey?: string, scope?: string): Promise<'new' | 'duplicate'>;
  /** This instance's events of `receiver` not handed on yet, oldest first. */
  pendingInbox(receiver: string): Promise<InboxRow[]>;
  /** The stored message (JSON text) of one of them; undefined when handed on or unknown. */
  pendingMessage(receiver: string, eventId: string): Promise<string | undefined>;
  /**
   * Marks events handed on; `stillDone` is asked again when the write runs (a message may have been sent
   * on meanwhile). Resolves with how many changed.
   */
  markHanded(receiver: string, eventIds: readonly string[], stillDone?: (eventId: string) => boolean): Promise<number>;
  /**
   * Takes over `receiver`'s pending events of instances that died (their heartbeat lapsed) before handing
   * them on: they become this instance's, listed by pendingInbox, to be emitted again. Resolves with how
   * many moved; always 0 for a back end with a single instance. A back end whose failed accept may have
   * stored its event all the same (it cannot take it back: another instance may have acknowledged a copy
   * as a duplicate) adds, at the first call after such a failure, how many of this instance's own events
   * of `receiver` are pending, so that they are listed and emitted too.
   */
  adoptOrphaned(receiver: string): Promise<number>;
}

/** The outbox: queueing, claiming, outcomes, dead letters. */
export interface OutboxStore {
  /** Queues a delivery of `body` to `subscriber`, due after `delayMs`; 'duplicate' if it has the event already. */
  enqueue(subscriber: string, eventId: string, eventType: string, body: string, delayMs?: number): Promise<'new' | 'duplicate'>;
  /** Takes due deliveries not held by a live lease, earliest due first (ordered mode: the head only). */
  claim(subscriber: string, options: ClaimOptions): Promise<Claim[]>;
  /**
   * In how many ms claim() could next return something (a due time, or the end of a lease; 0 or less when
   * something is due now); undefined when the queue is empty. Relative, so that a worker never compares
   * the store's clock with its own. Ordered mode looks at the head only.
   */
  nextDueIn(subscriber: string, ordered: boolean): Promise<number | undefined>;
  /** The delivery succeeded; false (nothing changed) when `token` is not the latest claim's. */
  recordDelivered(id: number, token: string, status: number): Promise<boolean>;
  /** The attempt failed: rescheduled or dead; false (nothing changed) when `token` is not the latest claim's. */
  recordFailed(id: number, token: string, outcome: FailedOutcome): Promise<boolean>;
  /** Gives a claim back without an outcome (a worker closing before it started it): claimable at once. */
  release(id: number, token: string): Promise<boolean>;
  /** The endpoint answers again: everything queued becomes due now. */
  wakeAll(subscriber: string): Promise<void>;
  counts(subscriber: string): Promise<Record<DeliveryState, number>>;
  /** Newest first. */
  list(subscriber: string, state: DeliveryState, limit?: number, offset?: number): Promise<Delivery[]>;
  /** Puts dead letters back in the queue (one by id, or all of the subscriber's); resolves with how many. */
  replay(subscriber: string, id?: number): Promise<number>;
}

/** What the housekeeper (housekeeper.ts) needs: pruning, and letting go of orphans. */
export interface HousekeepingStore {
  /** Forgets up to `limit` handed-on inbox rows received before `before`; resolves with how many. */
  pruneInbox(before: number, limit: number): Promise<number>;
  /** Forgets up to `limit` delivered rows, of any subscriber, last updated before `before`. */
  pruneAllDelivered(before: number, limit: number): Promise<number>;
  /** Every subscriber with deliveries in any state. */
  subscribers(): Promise<string[]>;
  /** Every receiver with inbox rows, handed on or not. */
  receivers(): Promise<string[]>;
  queueSize(subscriber: string): Promise<number>;
  /** How many of a receiver's events are not handed on. */
  pendingCount(receiver: string): Promise<number>;
  /** Deletes up to `limit` deliveries of a subscriber, in any state. */
  dropQueue(subscriber: string, limit: number): Promise<number>;
  /** Marks up to `limit` of a receiver's events handed on without emitting them (the receiver is gone). */
  giveUpPending(receiver: string, limit: number): Promise<number>;
  orphanMarks(): Promise<OrphanMark[]>;
  /** Records when an orphan was first seen; an existing mark keeps its time. */
  markOrphan(kind: OrphanKind, id: string, since: number): Promise<void>;
  clearOrphan(kind: OrphanKind, id: string): Promise<void>;
}

/**
 * What the editor's event center reads: the inbox searched, an event's deliveries, events per minute.
 * Every call is bounded on a big store (an index, or a window of at most query.scanLimit events).
 */
export interface EventCenterStore {
  /**
   * Inbox events (handed on or not, until pruned) matching every criterion of `query` (event-query.ts
   * matches()), newest first, at most query.limit; only the newest query.scanLimit events of the time
   * range are looked at, unless an event id is given (then its index answers).
   */
  searchEvents(query: EventQuery): Promise<EventSearchResult>;
  /** Every subscriber's delivery of the event (any state), until pruned. */
  deliveriesOf(eventId: string): Promise<Delivery[]>;
  /** How many events were received in each of `minutes` minutes from `from` (ms), oldest minute first. */
  eventsPerMinute(from: number, minutes: number): Promise<number[]>;
}

export interface HubStore extends InboxStore, OutboxStore, HousekeepingStore, CounterStore, EventCenterStore {
  /**
   * Other processes use the same state (they queue work, claim it, and may die holding some): a worker
   * then looks at its queue now and then, not only when its own process queues something.
   */
  readonly shared: boolean;
  /** Lets go of the back end (after the last user); calls made afterwards reject. */
  close(): Promise<void>;
}
