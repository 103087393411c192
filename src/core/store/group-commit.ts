/**
 * Group commit: writes requested during one turn of the event loop run in a single transaction, so
 * a burst of N events costs one disk flush instead of N. Each caller gets a promise that settles
 * only after the transaction holding its write has committed (or failed).
 */
export type Write = () => void;

interface Pending {
  write: Write;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private scheduled = false;

  /** `transaction` runs its argument inside one database transaction (better-sqlite3's db.transaction). */
  constructor(
    private readonly transaction: (body: () => void) => void,
    private readonly maxBatch = 1000,
  ) {}

  write(write: Write): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ write, resolve, reject });
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
    if (batch.length === 0) return;
    this.queue = [];
    try {
      this.transaction(() => {
        for (const item of batch) item.write();
      });
    } catch (err) {
      for (const item of batch) item.reject(err);
      return;
    }
    for (const item of batch) item.resolve();
  }
}
