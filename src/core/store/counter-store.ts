/**
 * The counters part of the store contract (store-contract.ts): cumulative counts that outlive a deploy
 * and a restart (events received, rejected, delivered...), per-minute counts for a chart of the last hour,
 * and "last seen" times. Writers batch in memory and add a batch about once a second (count-batcher.ts):
 * never one store write per push. Every amount is added, never set, so several instances sharing one
 * back end (Redis) add up to the hub's totals. What the names mean is counter-names.ts's business: to the
 * store they are opaque strings.
 */

/** A minute bucket's start: ms since the epoch, a multiple of MINUTE_MS. */
export const MINUTE_MS = 60_000;
/** Per-minute counts are kept this long (the chart shows the last hour). */
export const MINUTE_RETENTION_MS = 2 * 60 * MINUTE_MS;
/** minuteSeries looks at most this many minutes back. */
export const MAX_SERIES_MINUTES = 24 * 60;

export const minuteOf = (ms: number): number => Math.floor(ms / MINUTE_MS) * MINUTE_MS;

/** What one flush adds. Amounts are positive integers; an empty batch is allowed and changes nothing. */
export interface CounterBatch {
  /** name -> amount added to its total. */
  add?: Record<string, number>;
  /** name -> a time (ms): each name keeps the latest time it was given (e.g. the last event's). */
  latest?: Record<string, number>;
  /** name -> minute start (ms, as a string key) -> amount added to that minute's count. */
  minutes?: Record<string, Record<string, number>>;
}

export interface CounterSnapshot {
  totals: Record<string, number>;
  latest: Record<string, number>;
}

export interface MinutePoint {
  /** The minute's start (ms). */
  minute: number;
  count: number;
}

export interface CounterStore {
  /**
   * Adds a batch in one write. Amounts add up across calls and across instances. A call made before
   * close() is completed by it (the last flush of a closing runtime is not lost).
   */
  addCounts(batch: CounterBatch): Promise<void>;
  /** Every total and every latest time. */
  readCounts(): Promise<CounterSnapshot>;
  /**
   * The per-minute counts of `name` from `sinceMs` to `untilMs` (default: now), oldest first, minutes
   * without a count left out; at most MAX_SERIES_MINUTES back, and nothing older than MINUTE_RETENTION_MS.
   */
  minuteSeries(name: string, sinceMs: number, untilMs?: number): Promise<MinutePoint[]>;
  /**
   * How long (ms, on the store's clock) the subscriber's oldest queued delivery has been queued (since
   * it was first queued); undefined when nothing is queued.
   */
  oldestQueuedAge(subscriber: string): Promise<number | undefined>;
}

/** The batch as flat rows (kind, name, minute, amount): how both back ends write it. */
export function batchRows(batch: CounterBatch): { kind: 'add' | 'latest' | 'minute'; name: string; minute: number; amount: number }[] {
  const rows: { kind: 'add' | 'latest' | 'minute'; name: string; minute: number; amount: number }[] = [];
  for (const [name, amount] of Object.entries(batch.add ?? {})) if (amount > 0) rows.push({ kind: 'add', name, minute: 0, amount: Math.round(amount) });
  for (const [name, at] of Object.entries(batch.latest ?? {})) rows.push({ kind: 'latest', name, minute: 0, amount: Math.round(at) });
  for (const [name, perMinute] of Object.entries(batch.minutes ?? {})) {
    for (const [minute, amount] of Object.entries(perMinute)) {
      if (amount > 0) rows.push({ kind: 'minute', name, minute: minuteOf(Number(minute)), amount: Math.round(amount) });
    }
  }
  return rows;
}
