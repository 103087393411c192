/**
 * The embedded back end of the store contract (store-contract.ts): the SQLite EventStore, whose calls stay
 * synchronous inside, behind the asynchronous contract. One Node-RED process owns the file, so:
 *   - the instance id is fixed (LOCAL_INSTANCE): the inbox's receiver key alone keys hand-off state;
 *   - leases live in memory, not in the file. A lease outliving the process would only delay its delivery
 *     after a restart; without it, everything queued is claimable at once after a restart, as before.
 * A synchronous failure of the EventStore (busy, file lost, closed) becomes a rejected promise.
 */
import type { EventStore } from './event-store';
import type {
  Claim, ClaimOptions, Delivery, DeliveryState, EventQuery, EventSearchResult, FailedOutcome, HubStore, InboxRow, OrphanKind, OrphanMark,
} from './store-contract';
import { type CounterBatch, type CounterSnapshot, MAX_SERIES_MINUTES, MINUTE_MS, MINUTE_RETENTION_MS, type MinutePoint, minuteOf } from './counter-store';

/** The one instance of a store that a single process owns. */
export const LOCAL_INSTANCE = 'local';

interface Lease {
  subscriber: string;
  token: string;
  until: number;
  /** Its outcome is being written: not claimable, and not recorded twice. */
  completing?: boolean;
}

/** Runs a synchronous store call as a promise: what it throws rejects. */
const later = <T>(fn: () => T | Promise<T>): Promise<T> => {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err);
  }
};

export class SqliteHubStore implements HubStore {
  readonly instanceId = LOCAL_INSTANCE;
  /** One process owns the file: its workers hear of every queueing in it. */
  readonly shared = false;
  /** The latest claim of each delivery, until its outcome is recorded. */
  private readonly leases = new Map<number, Lease>();
  private claims = 0;

  constructor(readonly events: EventStore) {}

  get path(): string {
    return this.events.path;
  }

  // --- inbox -------------------------------------------------------------------------------------

  accept(eventId: string, receiver: string, message: unknown, contentKey?: string, scope?: string): Promise<'new' | 'duplicate'> {
    return later(() => this.events.accept(eventId, receiver, message, contentKey, scope));
  }

  pendingInbox(receiver: string): Promise<InboxRow[]> {
    return later(() => this.events.pendingInbox(receiver));
  }

  pendingMessage(receiver: string, eventId: string): Promise<string | undefined> {
    return later(() => this.events.pendingMessage(receiver, eventId));
  }

  markHanded(receiver: string, eventIds: readonly string[], stillDone?: (eventId: string) => boolean): Promise<number> {
    return later(() => this.events.markHanded(receiver, eventIds, stillDone));
  }

  /** One process owns the file: no other instance can have died with events of its own. */
  adoptOrphaned(): Promise<number> {
    return Promise.resolve(0);
  }

  // --- outbox ------------------------------------------------------------------------------------

  enqueue(subscriber: string, eventId: string, eventType: string, body: string, delayMs?: number): Promise<'new' | 'duplicate'> {
    return later(() => this.events.enqueue(subscriber, eventId, eventType, body, delayMs));
  }

  /** Ids of the subscriber's deliveries held by a lease that has not run out at `now`. */
  private held(subscriber: string, now: number): Set<number> {
    const ids = new Set<number>();
    for (const [id, lease] of this.leases) if (lease.subscriber === subscriber && (lease.until > now || lease.completing)) ids.add(id);
    return ids;
  }

  claim(subscriber: string, options: ClaimOptions): Promise<Claim[]> {
    return later(() => {
      const now = this.events.now();
      const held = this.held(subscriber, now);
      let batch: Delivery[];
      if (options.ordered) {
        const head = this.events.head(subscriber);
        batch = head && head.nextAt <= now && !held.has(head.id) ? [head] : [];
      } else {
        const limit = Math.max(0, Math.floor(options.limit));
        // Ids first (from the index alone): the held ones come back too and are skipped unread.
        const ids = limit === 0 ? [] : this.events.dueIds(subscriber, limit + held.size).filter((id) => !held.has(id)).slice(0, limit);
        batch = ids.map((id) => this.events.get(id)).filter((d): d is Delivery => d !== undefined && d.state === 'queued');
      }
      return batch.map((delivery) => {
        this.claims += 1;
        const lease: Lease = { subscriber, token: `${this.instanceId}:${this.claims}`, until: now + options.leaseMs };
        this.leases.set(delivery.id, lease);
        return { delivery, token: lease.token, leaseUntil: lease.until };
      });
    });
  }

  nextDueIn(subscriber: string, ordered: boolean): Promise<number | undefined> {
    return later(() => {
      const now = this.events.now();
      const at = this.nextDueAt(subscriber, ordered, now);
      return at === undefined ? undefined : at - now;
    });
  }

  /** When claim() could next return something, on the store's clock. */
  private nextDueAt(subscriber: string, ordered: boolean, now: number): number | undefined {
    if (ordered) {
      const head = this.events.head(subscriber);
      if (!head) return undefined;
      const lease = this.leases.get(head.id);
      return lease && lease.until > now ? Math.max(head.nextAt, lease.until) : head.nextAt;
    }
    const held = this.held(subscriber, now);
    let next = this.events.nextDueAt(subscriber, held);
    // A held delivery is claimable again when its lease ends (if its outcome was never recorded).
    for (const id of held) {
      const until = (this.leases.get(id) as Lease).until;
      if (next === undefined || until < next) next = until;
    }
    return next;
  }

  /**
   * Records an outcome of delivery `id` if `token` is its latest claim. The lease holds (nobody claims
   * the delivery) until the write is done, and ends with it; a write that fails leaves the claim as it was.
   */
  private complete(id: number, token: string, write: () => Promise<void>): Promise<boolean> {
    return later(async () => {
      const lease = this.leases.get(id);
      if (!lease || lease.token !== token || lease.completing) return false;
      lease.completing = true;
      try {
        await write();
      } finally {
        lease.completing = false;
      }
      if (this.leases.get(id) === lease) this.leases.delete(id);
      return true;
    });
  }

  recordDelivered(id: number, token: string, status: number): Promise<boolean> {
    return this.complete(id, token, () => this.events.recordDelivered(id, status));
  }

  recordFailed(id: number, token: string, outcome: FailedOutcome): Promise<boolean> {
    return this.complete(id, token, () => {
      const { retryInMs, ...rest } = outcome;
      return this.events.recordFailed(id, { ...rest, nextAt: retryInMs === undefined ? undefined : this.events.now() + retryInMs });
    });
  }

  release(id: number, token: string): Promise<boolean> {
    return later(() => {
      const lease = this.leases.get(id);
      if (!lease || lease.token !== token || lease.completing) return false;
      this.leases.delete(id);
      return true;
    });
  }

  wakeAll(subscriber: string): Promise<void> {
    return later(() => this.events.wakeAll(subscriber));
  }

  counts(subscriber: string): Promise<Record<DeliveryState, number>> {
    return later(() => this.events.counts(subscriber));
  }

  list(subscriber: string, state: DeliveryState, limit?: number, offset?: number): Promise<Delivery[]> {
    return later(() => this.events.list(subscriber, state, limit, offset));
  }

  replay(subscriber: string, id?: number): Promise<number> {
    return later(() => this.events.replay(subscriber, id));
  }

  // --- event center ------------------------------------------------------------------------------

  searchEvents(query: EventQuery): Promise<EventSearchResult> {
    return later(() => this.events.searchEvents(query));
  }

  deliveriesOf(eventId: string): Promise<Delivery[]> {
    return later(() => this.events.deliveriesOf(eventId));
  }

  eventsPerMinute(from: number, minutes: number): Promise<number[]> {
    return later(() => this.events.eventsPerMinute(from, minutes));
  }

  // --- housekeeping ------------------------------------------------------------------------------

  pruneInbox(before: number, limit: number): Promise<number> {
    return later(() => this.events.pruneInbox(before, limit));
  }

  pruneAllDelivered(before: number, limit: number): Promise<number> {
    return later(() => this.events.pruneAllDelivered(before, limit));
  }

  subscribers(): Promise<string[]> {
    return later(() => this.events.subscribers());
  }

  receivers(): Promise<string[]> {
    return later(() => this.events.receivers());
  }

  queueSize(subscriber: string): Promise<number> {
    return later(() => this.events.queueSize(subscriber));
  }

  pendingCount(receiver: string): Promise<number> {
    return later(() => this.events.pendingCount(receiver));
  }

  dropQueue(subscriber: string, limit: number): Promise<number> {
    return later(() => {
      const dropped = this.events.dropQueue(subscriber, limit);
      if (this.events.queueSize(subscriber) === 0) {
        for (const [id, lease] of this.leases) if (lease.subscriber === subscriber) this.leases.delete(id);
      }
      return dropped;
    });
  }

  giveUpPending(receiver: string, limit: number): Promise<number> {
    return later(() => this.events.giveUpPending(receiver, limit));
  }

  orphanMarks(): Promise<OrphanMark[]> {
    return later(() => this.events.orphanMarks());
  }

  markOrphan(kind: OrphanKind, id: string, since: number): Promise<void> {
    return later(() => this.events.markOrphan(kind, id, since));
  }

  clearOrphan(kind: OrphanKind, id: string): Promise<void> {
    return later(() => this.events.clearOrphan(kind, id));
  }

  // --- counters ----------------------------------------------------------------------------------

  /** Queued in the group commit at once: a close() right after it commits it. */
  addCounts(batch: CounterBatch): Promise<void> {
    return later(() => this.events.addCounts(batch));
  }

  readCounts(): Promise<CounterSnapshot> {
    return later(() => this.events.readCounts());
  }

  minuteSeries(name: string, sinceMs: number, untilMs?: number): Promise<MinutePoint[]> {
    return later(() => {
      const now = this.events.now();
      const until = untilMs ?? now;
      const since = Math.max(sinceMs, until - MAX_SERIES_MINUTES * MINUTE_MS, now - MINUTE_RETENTION_MS);
      return this.events.minuteSeries(name, minuteOf(since), until);
    });
  }

  oldestQueuedAge(subscriber: string): Promise<number | undefined> {
    return later(() => {
      const at = this.events.oldestQueuedAt(subscriber);
      return at === undefined ? undefined : Math.max(0, this.events.now() - at);
    });
  }

  /** Closes the file at once (synchronously inside: the last user hears what closing reported). */
  close(): Promise<void> {
    this.leases.clear();
    return later(() => this.events.close());
  }
}
