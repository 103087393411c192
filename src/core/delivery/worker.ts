/**
 * Delivers one subscriber's outbox: takes due deliveries from the store a few at a time (never the
 * whole backlog), attempts them with bounded concurrency, and records each outcome:
 *   2xx (and, for DingTalk format, an encrypted "success")  -> delivered
 *   410                                                     -> dead letter at once
 *   429 / 503 with Retry-After                              -> retried after Retry-After or the schedule's
 *                                                              delay, whichever is longer
 *   anything else, timeouts, connection errors              -> retried on the schedule, then dead letter
 * After `breakerThreshold` failures in a row the endpoint counts as down (the breaker opens): nothing
 * is attempted until the last failure's retry time, then one delivery at a time probes the endpoint,
 * so a backlog neither hammers a dead system nor burns its attempts; the first success wakes them all.
 * Ordered mode delivers strictly one at a time in queue order, the head blocking the rest.
 * Work is claimed from the store with a lease (the attempt's timeout plus a margin) and recorded with the
 * claim's fencing token: the store decides what is due, on its own clock, and whoever holds a delivery.
 * The worker runs from timers, where an exception would end Node-RED: a store that fails (busy, locked
 * by another process, disk full) never makes it throw. It pauses, tells onStoreError, tries again with
 * back-off, and tells onStoreRecovered once the kind of call that failed works again.
 */
import type { Claim, Delivery, OutboxStore } from '../store/store-contract';
import { type StoreCall, StoreSpell } from '../store/store-spell';
import { DeliveryError, type HttpResult } from './http-send';
import { parseRetryAfter, retryDelay } from './schedule';

export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, Math.min(ms, 2 ** 31 - 1));
    t.unref?.();
    return t;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Performs one attempt: resolves with the HTTP answer and whether it counts, or rejects with DeliveryError. */
export type AttemptFn = (delivery: Delivery) => Promise<{ result: HttpResult; ok: boolean; reason?: string }>;

export interface Outcome {
  delivery: Delivery;
  attempts: number;
  status?: number;
  error?: string;
  durationMs: number;
}

export interface WorkerOptions {
  subscriber: string;
  store: OutboxStore;
  /** How long a claim holds a delivery (default DEFAULT_LEASE_MS): longer than an attempt can take. */
  leaseMs?: number;
  attempt: AttemptFn;
  schedule: readonly number[];
  concurrency: number;
  ordered: boolean;
  clock?: Clock;
  jitter?: number;
  breakerThreshold?: number;
  /**
   * The queue is shared with other instances (they queue work, and may die holding claims): look at it
   * at least this often, even when nothing is due that this worker knows of. Default: never.
   */
  pollMs?: number;
  onDelivered?: (outcome: Outcome) => void;
  onDead?: (outcome: Outcome) => void;
  /** An attempt failed and the delivery is queued again for a retry (its outcome was recorded). */
  onRetry?: (outcome: Outcome) => void;
  onChange?: () => void;
  /**
   * The store failed: an outcome could not be recorded (the worker pauses STORE_PAUSE_MS) or due work could
   * not be read (it tries again after STORE_RETRY_MIN_MS, doubling up to STORE_PAUSE_MS). Called on every
   * failure: the caller decides what to log (once per failing spell).
   */
  onStoreError?: (err: unknown) => void;
  /** The store works again after onStoreError (a write went through, or a read when a read had failed). */
  onStoreRecovered?: () => void;
  /**
   * Where the deliveries taken but not yet marked delivered are kept: pass the same map to the worker that
   * replaces this one (a redeploy of the node) so it does not send them again either.
   */
  unrecorded?: Map<number, UnrecordedDelivery>;
}

export interface UnrecordedDelivery {
  status: number;
  outcome: Outcome;
  /** The fencing token of the latest claim of the delivery (claimed again meanwhile: refreshed). */
  token: string;
}

/** A claim's lease when the caller names none: longer than any attempt (the longest timeout is 300 s). */
export const DEFAULT_LEASE_MS = 330_000;

const RETRY_AFTER_STATUSES = new Set([429, 503]);
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
/** After an outcome could not be recorded: the delivery is still queued and due, so wait before retrying. */
export const STORE_PAUSE_MS = 5_000;
/** After due work could not be read: the first retry; doubled while reading keeps failing, up to STORE_PAUSE_MS. */
export const STORE_RETRY_MIN_MS = 500;
/** Work due but not started although nothing is in flight (should not happen): look again this much later. */
const RECHECK_MS = 1_000;

export class DeliveryWorker {
  private readonly clock: Clock;
  /** Deliveries being attempted, with the token of their latest claim. */
  private readonly inFlight = new Map<number, { token: string }>();
  /** A pump is under way (it waits for the store); a wake meanwhile asks for one more after it. */
  private pumping = false;
  private pumpAgain = false;
  private timer: unknown;
  private timerAt = Infinity;
  private stopped = false;
  private wakeScheduled = false;
  private consecutiveFailures = 0;
  /** While the breaker is open: no attempt before this time, then one probe at a time. */
  private openUntil: number | undefined;
  /** After the store failed to record an outcome: no attempt before this time. */
  private pausedUntil: number | undefined;
  /** When the current run of failures began (undefined while the endpoint answers). */
  failingSince: number | undefined;
  /**
   * Deliveries the endpoint took (2xx) whose "delivered" mark the store could not write (a full disk):
   * never sent again by this process; their mark is written as soon as the store takes writes.
   */
  private readonly unrecorded: Map<number, UnrecordedDelivery>;
  private recording = false;
  /**
   * The endpoint answered again but waking its queue (store.wakeAll) could not be written: owed, and
   * written as soon as the store takes writes (which also ends the store's failing spell).
   */
  private wakeOwed = false;
  private waking = false;
  /** The store's failing spell: ends (onStoreRecovered) when the kind of call that failed works again. */
  private readonly storeSpell: StoreSpell;
  private readRetryMs = 0;

  constructor(private readonly options: WorkerOptions) {
    this.clock = options.clock ?? systemClock;
    this.unrecorded = options.unrecorded ?? new Map();
    this.storeSpell = new StoreSpell({
      failing: () => undefined, // every failure is told to onStoreError (storeFailed)
      recovered: () => {
        if (!this.stopped) this.options.onStoreRecovered?.();
      },
    });
  }

  get active(): number {
    return this.inFlight.size;
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /**
   * Looks for due work (called after an enqueue, a replay, a settled attempt or a timer). Wakes in
   * one turn of the event loop (a committed batch of enqueues, a burst of answers) share one look.
   */
  wake(): void {
    if (this.stopped || this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      if (!this.stopped) this.pumpGuarded();
    });
  }

  /**
   * Stops taking work and waits (up to `maxWaitMs`, well inside Node-RED's 15 s close timeout) for
   * attempts in flight to be recorded. One still unrecorded stays queued and is attempted again later.
   */
  async stop(maxWaitMs = 3000): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    const end = Date.now() + maxWaitMs;
    while (this.inFlight.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
  }

  private get limit(): number {
    return this.openUntil !== undefined || this.options.ordered ? 1 : this.options.concurrency;
  }

  /** No attempt may start before this time (breaker open, or the store just failed), if set. */
  private get holdUntil(): number | undefined {
    if (this.openUntil === undefined) return this.pausedUntil;
    return this.pausedUntil === undefined ? this.openUntil : Math.max(this.openUntil, this.pausedUntil);
  }

  /**
   * pump() from a timer: a store that cannot be read means a pause and a retry, never an exception. One
   * pump at a time: a wake while one waits for the store asks for another right after it.
   */
  private pumpGuarded(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.pump()
      .then(
        (asked) => {
          if (!asked) return; // held back without a word from the store: says nothing about it
          this.readRetryMs = 0;
          this.storeWorked('read');
        },
        (err: unknown) => {
          this.readRetryMs = this.readRetryMs === 0 ? STORE_RETRY_MIN_MS : Math.min(STORE_PAUSE_MS, this.readRetryMs * 2);
          this.pausedUntil = Math.max(this.pausedUntil ?? 0, this.clock.now() + this.readRetryMs);
          this.storeFailed('read', err);
          this.armRetry(this.pausedUntil);
        },
      )
      .finally(() => {
        this.pumping = false;
        if (!this.pumpAgain) return;
        this.pumpAgain = false;
        this.wake();
      });
  }

  /** Arms the timer for `at` without asking the store (it just failed). */
  private armRetry(at: number): void {
    if (this.stopped) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.wake();
    }, Math.max(0, at - this.clock.now()));
  }

  private storeFailed(call: StoreCall, err: unknown): void {
    this.storeSpell.failed(err, '', call);
    if (!this.stopped) this.options.onStoreError?.(err);
  }

  private storeWorked(call: StoreCall): void {
    this.storeSpell.worked('', call);
  }

  /** Starts what is due; false when it did not ask the store (held back by a store pause). */
  private async pump(): Promise<boolean> {
    const { store, subscriber, ordered } = this.options;
    const hold = this.holdUntil;
    // One reading of the clock for both checks: read twice, a millisecond could pass between them (a timer
    // fires up to 1 ms early), and a store pause would be taken for the breaker's hold, its look at the
    // store (nextDueIn) for the store working again.
    const now = this.clock.now();
    if (hold !== undefined && now < hold) {
      // Paused because the store failed: do not ask it when the next delivery is due, look again then.
      if (this.pausedUntil !== undefined && now < this.pausedUntil) {
        if (this.timer === undefined || this.timerAt > hold) this.armRetry(hold);
        return false;
      }
      await this.armTimer(false);
      return true;
    }
    this.pausedUntil = undefined;
    if (this.unrecorded.size > 0) this.recordUnrecorded();
    if (this.wakeOwed) this.wakeQueue();
    let started = 0;
    const free = this.limit - this.inFlight.size;
    if (free > 0) {
      const claims = await store.claim(subscriber, { limit: free, leaseMs: this.options.leaseMs ?? DEFAULT_LEASE_MS, ordered });
      for (const claim of claims) if (this.take(claim)) started += 1;
    }
    await this.armTimer(started > 0);
    return true;
  }

  /**
   * Starts a claimed delivery, unless this worker holds it already: one in flight whose lease ran out, or
   * one delivered whose mark is not written yet. Those keep the newer token and are not sent again.
   */
  private take(claim: Claim): boolean {
    const id = claim.delivery.id;
    const running = this.inFlight.get(id);
    const unrecorded = this.unrecorded.get(id);
    if (running) running.token = claim.token;
    else if (unrecorded) unrecorded.token = claim.token;
    else if (this.stopped) void this.options.store.release(id, claim.token).catch(() => undefined); // closing: free it
    else {
      this.run(claim);
      return true;
    }
    return false;
  }

  /**
   * Sets the timer for the next delivery that could start: the earliest due time among queued
   * deliveries not already in flight (in ordered mode, the head's), held back by the breaker or a
   * store pause. A settling attempt wakes the worker anyway, so nothing is armed while all slots are
   * busy; and a due time already past never arms a 0 ms timer twice in a row (no busy loop).
   */
  private async armTimer(startedSome: boolean): Promise<void> {
    if (this.stopped) return;
    const { store, subscriber, ordered } = this.options;
    if (this.inFlight.size >= this.limit) return;
    const dueIn = await store.nextDueIn(subscriber, ordered);
    if (this.stopped) return;
    const poll = this.options.pollMs;
    if (dueIn === undefined && poll === undefined) {
      this.clearTimer();
      return;
    }
    let next = this.clock.now() + (dueIn === undefined ? (poll as number) : poll === undefined ? dueIn : Math.min(dueIn, poll));
    const hold = this.holdUntil;
    if (hold !== undefined) next = Math.max(next, hold);
    if (next <= this.clock.now() && !startedSome) next = this.clock.now() + RECHECK_MS;
    if (next >= this.timerAt && this.timer !== undefined) return;
    this.armRetry(next);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private run(claim: Claim): void {
    const { delivery } = claim;
    const held = { token: claim.token };
    this.inFlight.set(delivery.id, held);
    const started = this.clock.now();
    this.options
      .attempt(delivery)
      .then(
        (answer) => this.settle(delivery, held, started, answer.result, answer.ok ? undefined : answer.reason ?? `HTTP ${answer.result.status}`),
        (err: unknown) => this.settle(delivery, held, started, undefined, err instanceof DeliveryError ? `${err.code}: ${err.message}` : String(err)),
      )
      .then(
        () => this.storeWorked('write'),
        (err: unknown) => {
          // Not recorded: the delivery stays queued and due. Retrying at once would send it again and
          // again while the store fails (disk full, locked), so everything waits a moment.
          this.pausedUntil = this.clock.now() + STORE_PAUSE_MS;
          this.storeFailed('write', err);
        },
      )
      .finally(() => {
        this.inFlight.delete(delivery.id);
        if (this.stopped) return; // closing: the node's status and outputs are gone
        this.options.onChange?.();
        this.wake();
      });
  }

  /** Writes the delivered marks that failed before; on failure everything pauses again. */
  private recordUnrecorded(): void {
    if (this.recording) return;
    this.recording = true;
    const pending = [...this.unrecorded];
    Promise.all(
      pending.map(async ([id, entry]) => {
        // Not recorded (false): another worker holds the delivery now and records it; it was made all the same.
        await this.options.store.recordDelivered(id, entry.token, entry.status);
        this.unrecorded.delete(id);
        if (!this.stopped) this.options.onDelivered?.(entry.outcome);
      }),
    )
      .then(
        () => this.storeWorked('write'),
        (err: unknown) => {
          this.pausedUntil = this.clock.now() + STORE_PAUSE_MS;
          this.storeFailed('write', err);
        },
      )
      .finally(() => {
        this.recording = false;
        if (!this.stopped) this.wake();
      });
  }

  /** Writes the wake-up of the queue that failed before; on failure everything pauses again. */
  private wakeQueue(): void {
    if (this.waking) return;
    this.waking = true;
    this.options.store
      .wakeAll(this.options.subscriber)
      .then(
        () => {
          this.wakeOwed = false;
          this.storeWorked('write');
        },
        (err: unknown) => {
          this.pausedUntil = this.clock.now() + STORE_PAUSE_MS;
          this.storeFailed('write', err);
        },
      )
      .finally(() => {
        this.waking = false;
        if (!this.stopped) this.wake();
      });
  }

  private async settle(delivery: Delivery, held: { token: string }, started: number, result: HttpResult | undefined, failure: string | undefined): Promise<void> {
    const { store, schedule } = this.options;
    const now = this.clock.now();
    const attempts = delivery.attempts + 1;
    const status = result?.status;
    const outcome: Outcome = { delivery, attempts, status, durationMs: now - started };
    const success = result !== undefined && status !== undefined && status >= 200 && status < 300 && failure === undefined;

    if (success) {
      let recorded: boolean;
      try {
        recorded = await store.recordDelivered(delivery.id, held.token, status);
      } catch (err) {
        this.unrecorded.set(delivery.id, { status, outcome, token: held.token });
        throw err; // -> a pause and one warning; the mark is written later (recordUnrecorded)
      }
      const wasDown = this.openUntil !== undefined;
      this.consecutiveFailures = 0;
      this.failingSince = undefined;
      this.openUntil = undefined;
      // Reported before the queue is woken: a store failing now must not swallow a delivery that was made.
      // Not recorded: the lease ran out and another worker claimed the delivery; it reports its own attempt.
      if (recorded && !this.stopped) this.options.onDelivered?.(outcome);
      if (wasDown) {
        try {
          await store.wakeAll(this.options.subscriber);
        } catch (err) {
          this.wakeOwed = true; // -> a pause and one warning; written later (wakeQueue)
          throw err;
        }
      }
      return;
    }

    outcome.error = failure ?? `HTTP ${status}`;
    this.consecutiveFailures += 1;
    this.failingSince ??= now;
    let retryInMs: number | undefined;
    if (status !== 410) {
      const retryAfter = status !== undefined && RETRY_AFTER_STATUSES.has(status)
        ? parseRetryAfter(headerValue(result?.headers['retry-after']), now)
        : undefined;
      const delay = retryDelay(schedule, attempts, this.options.jitter ?? 0);
      // Retry-After may lengthen the wait, never shorten it: "0" or a date already past (clock skew)
      // would otherwise use up the whole schedule in a burst.
      if (delay !== undefined) retryInMs = Math.max(delay, Math.min(retryAfter ?? 0, MAX_RETRY_AFTER_MS));
    }
    // The store schedules the retry on its own clock; this worker's breaker uses this worker's.
    let recorded: boolean;
    try {
      recorded = await store.recordFailed(delivery.id, held.token, { retryInMs, status, error: outcome.error, breakerThreshold: this.options.breakerThreshold ?? 5 });
    } catch (err) {
      // Not recorded: give the claim back, so the delivery is tried again after the store pause, not
      // only when its lease runs out.
      await store.release(delivery.id, held.token).catch(() => undefined);
      throw err;
    }
    if (retryInMs === undefined) {
      if (recorded && !this.stopped) this.options.onDead?.(outcome);
      return;
    }
    if (recorded && !this.stopped) this.options.onRetry?.(outcome);
    const nextAt = now + retryInMs;
    // The endpoint looks down: hold everything back until this one's retry instead of hammering it.
    if (this.consecutiveFailures >= (this.options.breakerThreshold ?? 5)) this.openUntil = nextAt;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
