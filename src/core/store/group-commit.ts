/**
 * Group commit: writes requested during one turn of the event loop run in a single transaction, so
 * a burst of N events costs one disk flush instead of N. Each caller gets a promise that settles
 * only after the transaction holding its write has committed (or failed).
 *
 * A batch is `durable` when any of its writes asked to be (the store then flushes it to the disk
 * before the promises settle); a batch of relaxed writes only may skip the flush.
 */
export type Write = () => void;

interface Pending {
  write: Write;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private durable = false;
  private scheduled = false;

  /**
   * `transaction` runs its argument inside one database transaction (better-sqlite3's db.transaction);
   * for a durable batch it may return a promise that settles once the commit is on the disk.
   */
  constructor(
    private readonly transaction: (body: () => void, durable: boolean) => void | Promise<void>,
    private readonly maxBatch = 1000,
  ) {}

  write(write: Write, durable = true): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
      this.durable ||= durable;
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Commits everything queued now; also called before the database closes. */
  flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    const durable = this.durable;
    if (batch.length === 0) return;
    this.queue = [];
    this.durable = false;
    let flushed: void | Promise<void>;
    try {
      flushed = this.transaction(() => {
        for (const item of batch) item.write();
      }, durable);
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    if (!flushed) {
      for (const item of batch) item.resolve();
      return;
    }
    flushed.then(
      () => batch.forEach((item) => item.resolve()),
      (err: unknown) => batch.forEach((item) => item.reject(err)),
    );
  }
}
