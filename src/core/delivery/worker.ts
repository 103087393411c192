/**
 * Delivers one subscriber's outbox: takes due deliveries from the store a few at a time (never the
 * whole backlog), attempts them with bounded concurrency, and records each outcome:
 *   2xx (and, for DingTalk format, an encrypted "success")  -> delivered
 *   410                                                     -> dead letter at once
 *   429 / 503 with Retry-After                              -> retried after Retry-After
 *   anything else, timeouts, connection errors              -> retried on the schedule, then dead letter
 * After `breakerThreshold` failures in a row the endpoint counts as down (the breaker opens): nothing
 * is attempted until the last failure's retry time, then one delivery at a time probes the endpoint,
 * so a backlog neither hammers a dead system nor burns its attempts; the first success wakes them all.
 * Ordered mode delivers strictly one at a time in queue order, the head blocking the rest.
 */
import type { Delivery, EventStore } from '../store/event-store';
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
  store: EventStore;
  attempt: AttemptFn;
  schedule: readonly number[];
  concurrency: number;
  ordered: boolean;
  clock?: Clock;
  jitter?: number;
  breakerThreshold?: number;
  onDelivered?: (outcome: Outcome) => void;
  onDead?: (outcome: Outcome) => void;
  onChange?: () => void;
}

const RETRY_AFTER_STATUSES = new Set([429, 503]);
const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

export class DeliveryWorker {
  private readonly clock: Clock;
  private readonly inFlight = new Set<number>();
  private timer: unknown;
  private timerAt = Infinity;
  private stopped = false;
  private wakeScheduled = false;
  private consecutiveFailures = 0;
  /** While the breaker is open: no attempt before this time, then one probe at a time. */
  private openUntil: number | undefined;
  /** When the current run of failures began (undefined while the endpoint answers). */
  failingSince: number | undefined;

  constructor(private readonly options: WorkerOptions) {
    this.clock = options.clock ?? systemClock;
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
      if (!this.stopped) this.pump();
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

  private pump(): void {
    const { store, subscriber, ordered } = this.options;
    if (this.openUntil !== undefined && this.clock.now() < this.openUntil) {
      this.armTimer();
      return;
    }
    const free = this.limit - this.inFlight.size;
    if (free > 0) {
      let batch: Delivery[];
      if (ordered) {
        const head = store.head(subscriber);
        batch = head && head.nextAt <= this.clock.now() && !this.inFlight.has(head.id) ? [head] : [];
      } else {
        // Ids first (from the index alone): the rows in flight come back too and are skipped unread.
        const ids = store.dueIds(subscriber, free + this.inFlight.size).filter((id) => !this.inFlight.has(id)).slice(0, free);
        batch = ids.map((id) => store.get(id)).filter((d): d is Delivery => d !== undefined && d.state === 'queued');
      }
      for (const delivery of batch) this.run(delivery);
    }
    this.armTimer();
  }

  private armTimer(): void {
    if (this.stopped) return;
    let next = this.options.store.nextDueAt(this.options.subscriber);
    if (next === undefined || this.inFlight.size >= this.limit) {
      if (next === undefined) this.clearTimer();
      return;
    }
    if (this.openUntil !== undefined) next = Math.max(next, this.openUntil);
    if (next >= this.timerAt && this.timer !== undefined) return;
    this.clearTimer();
    this.timerAt = next;
    this.timer = this.clock.setTimer(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.wake();
    }, Math.max(0, next - this.clock.now()));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private run(delivery: Delivery): void {
    this.inFlight.add(delivery.id);
    const started = this.clock.now();
    this.options
      .attempt(delivery)
      .then(
        (answer) => this.settle(delivery, started, answer.result, answer.ok ? undefined : answer.reason ?? `HTTP ${answer.result.status}`),
        (err: unknown) => this.settle(delivery, started, undefined, err instanceof DeliveryError ? `${err.code}: ${err.message}` : String(err)),
      )
      .catch(() => undefined)
      .finally(() => {
        this.inFlight.delete(delivery.id);
        this.options.onChange?.();
        this.wake();
      });
  }

  private async settle(delivery: Delivery, started: number, result: HttpResult | undefined, failure: string | undefined): Promise<void> {
    const { store, schedule } = this.options;
    const now = this.clock.now();
    const attempts = delivery.attempts + 1;
    const status = result?.status;
    const outcome: Outcome = { delivery, attempts, status, durationMs: now - started };
    const success = result !== undefined && status !== undefined && status >= 200 && status < 300 && failure === undefined;

    if (success) {
      await store.recordDelivered(delivery.id, status);
      const wasDown = this.openUntil !== undefined;
      this.consecutiveFailures = 0;
      this.failingSince = undefined;
      this.openUntil = undefined;
      if (wasDown) await store.wakeAll(this.options.subscriber);
      this.options.onDelivered?.(outcome);
      return;
    }

    outcome.error = failure ?? `HTTP ${status}`;
    this.consecutiveFailures += 1;
    this.failingSince ??= now;
    let nextAt: number | undefined;
    if (status !== 410) {
      const retryAfter = status !== undefined && RETRY_AFTER_STATUSES.has(status)
        ? parseRetryAfter(headerValue(result?.headers['retry-after']), now)
        : undefined;
      const delay = retryDelay(schedule, attempts, this.options.jitter ?? 0);
      if (delay !== undefined) nextAt = now + (retryAfter !== undefined ? Math.min(retryAfter, MAX_RETRY_AFTER_MS) : delay);
    }
    await store.recordFailed(delivery.id, { nextAt, status, error: outcome.error });
    if (nextAt === undefined) {
      this.options.onDead?.(outcome);
      return;
    }
    // The endpoint looks down: hold everything back until this one's retry instead of hammering it.
    if (this.consecutiveFailures >= (this.options.breakerThreshold ?? 5)) this.openUntil = nextAt;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
