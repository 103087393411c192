/**
 * One housekeeper per open store, whatever nodes use it (a Stream-only hub has no HTTP receiver, a hub
 * may have no dispatch node): it keeps the file from growing without bound.
 *   - handed-on inbox rows older than the de-duplication window are forgotten;
 *   - delivered outbox rows older than the keep-delivered period are forgotten;
 *   - orphans: the queue (any state) of a dispatch node that is no longer in the deployed flows, and the
 *     events not handed on of a receiver that is no longer there, are let go once a grace period has
 *     passed since the housekeeper first saw them missing. That time is kept in the store, so a restart
 *     does not start the grace period again; a deploy that brings the node back cancels it.
 * Work runs in spells: after each deploy, every `everyMs`, and when a grace period ends. Deletes go a
 * batch at a time with a turn of the event loop between batches, so a large backlog never holds the
 * loop long. A spell that fails (a busy or failing store) is reported once and tried again later; the
 * next spell that succeeds ends the failing spell.
 */
import type { HousekeepingStore, OrphanKind, OrphanMark } from './store-contract';

/** What the housekeeper needs of the store: its part of the store contract. */
export type HousekeptStore = HousekeepingStore;

/** Which subscribers and receivers the deployed flows hold (read after each deploy). */
export interface DeployedNodes {
  subscriber(id: string): boolean;
  receiver(key: string): boolean;
}

/** What the housekeeper reports; the runtime glue words it for the log. */
export interface HousekeeperReport {
  /** First seen missing from the deployed flows with `rows` rows; let go at `at` unless it comes back. */
  orphaned(kind: OrphanKind, id: string, rows: number, at: number): void;
  /** Back in the deployed flows: its rows are kept. */
  returned(kind: OrphanKind, id: string): void;
  /** The grace period passed: `rows` rows deleted (a queue) or given up (a receiver's events). */
  removed(kind: OrphanKind, id: string, rows: number): void;
  /** A spell failed; told once until a spell succeeds again. */
  failed(error: unknown): void;
}

export interface HousekeeperConfig {
  /** Read at every spell, like the settings they come from. */
  dedupMs(): number;
  keepDeliveredMs(): number;
  orphanGraceMs(): number;
  /**
   * Calls `onDeploy` with the deployed nodes after every deploy (at once when the flows already run), and
   * with undefined when a deploy starts stopping nodes (orphans are not judged half-way through a deploy);
   * returns the unsubscription.
   */
  watchDeploys(onDeploy: (nodes: DeployedNodes | undefined) => void): () => void;
  report: HousekeeperReport;
  now?: () => number;
  /** Between spells (default 10 minutes). */
  everyMs?: number;
  /** After a failed spell (default 1 minute). */
  retryMs?: number;
  /** Rows per statement (default 500). */
  batch?: number;
}

const EVERY_MS = 10 * 60_000;
const RETRY_MS = 60_000;
const BATCH = 500;
/** No timer longer than this: Node's timers overflow past 2^31 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Thrown inside a spell once the housekeeper has stopped: the store may be closed, so not one more call. */
const STOPPED = Symbol('stopped');

const yieldTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class Housekeeper {
  private readonly now: () => number;
  private readonly everyMs: number;
  private readonly retryMs: number;
  private readonly batch: number;
  private deployed: DeployedNodes | undefined;
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** A deploy came while a spell ran: one more spell right after it. */
  private again = false;
  private failing = false;
  private stopped = true;
  /** The earliest end of a grace period seen by the last spell. */
  private nextDeadline: number | undefined;

  constructor(
    private readonly store: HousekeptStore,
    private readonly config: HousekeeperConfig,
  ) {
    this.now = config.now ?? Date.now;
    this.everyMs = config.everyMs ?? EVERY_MS;
    this.retryMs = config.retryMs ?? RETRY_MS;
    this.batch = config.batch ?? BATCH;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(this.everyMs);
    // May tell a deploy at once (the flows already run), which brings the first spell forward.
    this.unwatch = this.config.watchDeploys((nodes) => this.deploy(nodes));
  }

  /** Stops before the store closes: a spell under way makes no further store call. */
  stop(): void {
    this.stopped = true;
    this.unwatch?.();
    this.unwatch = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * The deployed flows changed: orphans are judged against these nodes from now on, in a spell soon;
   * undefined while a deploy is under way (nothing is judged orphaned then).
   */
  deploy(nodes: DeployedNodes | undefined): void {
    this.deployed = nodes;
    if (!nodes) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** One spell now (also what the timer runs); resolves when it is over. A spell under way is not doubled. */
  spell(): Promise<void> {
    if (this.running) return this.running;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const run = this.work().finally(() => {
      this.running = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        this.schedule(0);
      } else {
        this.schedule(this.failing ? this.retryMs : this.untilNext());
      }
    });
    this.running = run;
    return run;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.spell(), Math.min(MAX_TIMER_MS, Math.max(0, ms)));
    this.timer.unref?.();
  }

  /** The next regular spell, or the end of the nearest grace period if sooner. */
  private untilNext(): number {
    if (this.nextDeadline === undefined) return this.everyMs;
    return Math.min(this.everyMs, this.nextDeadline - this.now());
  }

  private async work(): Promise<void> {
    try {
      const now = this.now();
      this.nextDeadline = undefined;
      await this.inBatches(() => this.store.pruneInbox(now - this.config.dedupMs(), this.batch));
      await this.inBatches(() => this.store.pruneAllDelivered(now - this.config.keepDeliveredMs(), this.batch));
      if (this.deployed) await this.orphans(this.deployed, now);
      this.failing = false;
    } catch (err) {
      if (err === STOPPED) return;
      if (!this.failing) this.config.report.failed(err);
      this.failing = true;
    }
  }

  /**
   * Runs `step` (one batch) until a batch takes fewer than a full batch, or `still` turns false; resolves
   * with the total.
   */
  private async inBatches(step: () => Promise<number>, still: () => boolean = () => true): Promise<number> {
    let total = 0;
    for (;;) {
      if (!still()) return total;
      const n = await this.call(step);
      total += n;
      if (n < this.batch) return total;
      await yieldTurn();
    }
  }

  /** Every store call goes through here: none once stopped (also not after an answer arrives). */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.stopped) throw STOPPED;
    const answer = await fn();
    if (this.stopped) throw STOPPED;
    return answer;
  }

  private async orphans(deployed: DeployedNodes, now: number): Promise<void> {
    const grace = this.config.orphanGraceMs();
    const marks = new Map<string, OrphanMark>();
    for (const mark of await this.call(() => this.store.orphanMarks())) marks.set(`${mark.kind}\u0000${mark.id}`, mark);
    const kinds: { kind: OrphanKind; ids: () => Promise<string[]>; exists: (id: string) => boolean; rows: (id: string) => Promise<number>; letGo: (id: string) => Promise<number> }[] = [
      {
        kind: 'subscriber',
        ids: () => this.store.subscribers(),
        exists: (id) => deployed.subscriber(id),
        rows: (id) => this.store.queueSize(id),
        letGo: (id) => this.store.dropQueue(id, this.batch),
      },
      {
        kind: 'receiver',
        ids: () => this.store.receivers(),
        exists: (id) => deployed.receiver(id),
        // Handed-on rows are the de-duplication window: they go with the window, not with their receiver.
        rows: (id) => this.store.pendingCount(id),
        letGo: (id) => this.store.giveUpPending(id, this.batch),
      },
    ];
    // A deploy that starts while this spell runs (between batches) may bring a node back: nothing more is
    // judged or let go against the flows read before it; the spell the deploy asked for judges anew.
    const current = () => this.deployed === deployed;
    for (const { kind, ids, exists, rows, letGo } of kinds) {
      for (const id of await this.call(ids)) {
        if (!current()) return;
        const key = `${kind}\u0000${id}`;
        const mark = marks.get(key);
        marks.delete(key);
        if (exists(id)) {
          if (mark) {
            await this.call(() => this.store.clearOrphan(kind, id));
            this.config.report.returned(kind, id);
          }
          continue;
        }
        const count = await this.call(() => rows(id));
        if (!current()) return; // a deploy came while the store answered: judged anew by its spell
        if (count === 0) {
          if (mark) await this.call(() => this.store.clearOrphan(kind, id));
          continue;
        }
        if (!mark) {
          await this.call(() => this.store.markOrphan(kind, id, now));
          this.config.report.orphaned(kind, id, count, now + grace);
          this.deadline(now + grace);
        } else if (now - mark.since < grace) {
          this.deadline(mark.since + grace);
        } else {
          const removed = await this.inBatches(() => letGo(id), current);
          if (!current()) return; // its mark stays: judged again against the new flows
          await this.call(() => this.store.clearOrphan(kind, id));
          this.config.report.removed(kind, id, removed);
        }
      }
    }
    // Marks of ids with no rows left at all (a queue emptied some other way): nothing to wait for.
    if (!current()) return;
    for (const mark of marks.values()) await this.call(() => this.store.clearOrphan(mark.kind, mark.id));
  }

  private deadline(at: number): void {
    if (this.nextDeadline === undefined || at < this.nextDeadline) this.nextDeadline = at;
  }
}
