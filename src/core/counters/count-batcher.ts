/**
 * The hub's counters for one store, batched: a receiver or a worker counts in memory (no store write per
 * push on the receiver's path), and about once a second what was counted is added to the store in one
 * write (CounterStore.addCounts). A flush that fails is kept and added to the next one, never thrown
 * from the timer. What callers read is what the store had at the last read plus what was counted since:
 * numbers that a full deploy or a restart does not reset. A store shared by several instances (Redis) is
 * read again now and then, so that the totals include what the other instances counted.
 */
import { type CounterBatch, type CounterSnapshot, type CounterStore, MINUTE_RETENTION_MS, minuteOf } from '../store/counter-store';

export interface CountBatcherOptions {
  /** How often counts are added to the store. */
  flushMs?: number;
  /** A shared store: how often it is read again for the other instances' counts. */
  refreshMs?: number;
  now?: () => number;
  /** Told of the first failure of a spell of failing flushes, and of its end (undefined). */
  onFlushError?: (error: unknown) => void;
}

const FLUSH_MS = 1000;
const REFRESH_MS = 5000;

interface Pending {
  add: Map<string, number>;
  latest: Map<string, number>;
  minutes: Map<string, Map<number, number>>;
}

const emptyPending = (): Pending => ({ add: new Map(), latest: new Map(), minutes: new Map() });
const isEmpty = (p: Pending) => p.add.size === 0 && p.latest.size === 0 && p.minutes.size === 0;

function toBatch(p: Pending): CounterBatch {
  return {
    add: Object.fromEntries(p.add),
    latest: Object.fromEntries(p.latest),
    minutes: Object.fromEntries([...p.minutes].map(([name, m]) => [name, Object.fromEntries(m)])),
  };
}

/** Adds `from` into `into` (a failed flush goes back in front of what was counted since). */
function merge(into: Pending, from: Pending): void {
  for (const [k, n] of from.add) into.add.set(k, (into.add.get(k) ?? 0) + n);
  for (const [k, t] of from.latest) into.latest.set(k, Math.max(into.latest.get(k) ?? t, t));
  for (const [k, m] of from.minutes) {
    let target = into.minutes.get(k);
    if (!target) into.minutes.set(k, (target = new Map()));
    for (const [minute, n] of m) target.set(minute, (target.get(minute) ?? 0) + n);
  }
}

export class CountBatcher {
  private stored: CounterSnapshot = { totals: {}, latest: {} };
  private pending = emptyPending();
  /** The batch a flush under way is writing. */
  private inFlight = emptyPending();
  /** Flushes and reads run one after the other: a read never sees half of a flush. */
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly watchers = new Set<() => void>();
  private readonly flushMs: number;
  private readonly refreshMs: number;
  private readonly now: () => number;
  private lastRead = -Infinity;
  private failing = false;
  private closed = false;
  /** The first read of the store has answered. */
  loaded = false;
  /** Changes whenever totals() or latest() may answer differently (readers cache by it). */
  version = 0;

  constructor(
    private readonly store: (CounterStore & { readonly shared?: boolean }) | undefined,
    private readonly options: CountBatcherOptions = {},
  ) {
    this.flushMs = options.flushMs ?? FLUSH_MS;
    this.refreshMs = options.refreshMs ?? REFRESH_MS;
    this.now = options.now ?? Date.now;
    if (store) void this.refresh();
  }

  /** Adds `n` to a total. */
  count(name: string, n = 1): void {
    if (n <= 0) return;
    this.pending.add.set(name, (this.pending.add.get(name) ?? 0) + n);
    this.version += 1;
    this.schedule();
  }

  /** Keeps `at` as the name's latest time if it is later. */
  mark(name: string, at = this.now()): void {
    this.pending.latest.set(name, Math.max(this.pending.latest.get(name) ?? at, at));
    this.version += 1;
    this.schedule();
  }

  /** Adds `n` to the name's count for the minute of `at`. */
  perMinute(name: string, at = this.now(), n = 1): void {
    let m = this.pending.minutes.get(name);
    if (!m) this.pending.minutes.set(name, (m = new Map()));
    const minute = minuteOf(at);
    m.set(minute, (m.get(minute) ?? 0) + n);
    this.schedule();
  }

  /** Every total: the store's at the last read, plus what was counted since. */
  totals(): Record<string, number> {
    const out = { ...this.stored.totals };
    for (const p of [this.inFlight, this.pending]) for (const [k, n] of p.add) out[k] = (out[k] ?? 0) + n;
    return out;
  }

  /** Every latest time, as totals(). */
  latest(): Record<string, number> {
    const out = { ...this.stored.latest };
    for (const p of [this.inFlight, this.pending]) for (const [k, t] of p.latest) out[k] = Math.max(out[k] ?? t, t);
    return out;
  }

  /** Calls `fn` when the numbers changed other than by this process's counting (a read of the store). */
  watch(fn: () => void): () => void {
    const own = () => fn();
    this.watchers.add(own);
    this.schedule(); // a shared store is read again while someone watches
    return () => void this.watchers.delete(own);
  }

  /**
   * Reads the store again (after what is being flushed); resolves true once read, false when the read
   * failed (the numbers stay as they were; read again with the next flush). Never rejects.
   */
  refresh(): Promise<boolean> {
    const store = this.store;
    if (!store || this.closed) return Promise.resolve(false);
    const run = this.chain.then(async () => {
      if (this.closed) return false;
      try {
        this.stored = await store.readCounts();
        this.version += 1;
        this.lastRead = this.now();
        this.loaded = true;
      } catch {
        return false;
      }
      for (const watcher of [...this.watchers]) watcher();
      return true;
    });
    this.chain = run.then(() => undefined);
    run.then(() => this.schedule(), () => this.schedule());
    return run;
  }

  /** Adds what was counted to the store now; a failure keeps it for the next flush. Never rejects. */
  flush(): Promise<void> {
    const store = this.store;
    if (!store || this.closed) return Promise.resolve();
    const run = this.chain.then(async () => {
      if (this.closed) return;
      if (!isEmpty(this.pending)) {
        this.dropOldMinutes();
        this.inFlight = this.pending;
        this.pending = emptyPending();
        try {
          await store.addCounts(toBatch(this.inFlight));
          this.fold(this.inFlight);
          if (this.failing) this.options.onFlushError?.(undefined);
          this.failing = false;
        } catch (err) {
          merge(this.inFlight, this.pending);
          this.pending = this.inFlight;
          if (!this.failing) this.options.onFlushError?.(err);
          this.failing = true;
        } finally {
          this.inFlight = emptyPending();
        }
      }
      if (!this.loaded || (store.shared && this.now() - this.lastRead >= this.refreshMs)) void this.refresh();
    });
    this.chain = run;
    run.then(() => this.schedule(), () => this.schedule());
    return run;
  }

  /**
   * Stops the timer and hands what is left to the store in a call made now, which the store's close()
   * (right after this) completes. Nothing is counted afterwards.
   */
  close(): void {
    if (this.closed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.store && !isEmpty(this.pending)) this.store.addCounts(toBatch(this.pending)).catch(() => undefined);
    this.closed = true;
    this.watchers.clear();
  }

  /** A flushed batch is now in the store: the last read plus it is what the store has. */
  private fold(p: Pending): void {
    for (const [k, n] of p.add) this.stored.totals[k] = (this.stored.totals[k] ?? 0) + n;
    for (const [k, t] of p.latest) this.stored.latest[k] = Math.max(this.stored.latest[k] ?? t, t);
  }

  /** Minutes past the retention are of no use any more (a long outage of the store). */
  private dropOldMinutes(): void {
    const oldest = minuteOf(this.now() - MINUTE_RETENTION_MS);
    for (const [name, m] of this.pending.minutes) {
      for (const minute of m.keys()) if (minute < oldest) m.delete(minute);
      if (m.size === 0) this.pending.minutes.delete(name);
    }
  }

  private schedule(): void {
    if (this.timer || this.closed || !this.store) return;
    const due = !isEmpty(this.pending) || !this.loaded || (this.store.shared && this.watchers.size > 0);
    if (!due) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.flushMs);
    this.timer.unref?.();
  }
}
