/**
 * Flushes SQLite's write-ahead log to the disk off Node's main thread. With `synchronous = FULL`
 * SQLite calls fsync inside the commit, and the whole Node-RED process (HTTP included) stands still
 * for it: 0.3 ms on an idle disk, several ms on a busy one. Instead the store commits under
 * `synchronous = NORMAL` (frames written to the OS, in order) and asks this class for an fsync of
 * the -wal file on libuv's thread pool; callers are told "durable" only when it has completed.
 * That is the same guarantee as FULL: fsync of the file covers every frame written before it started.
 *
 * Commits that arrive while an fsync runs share the next one, so a busy receiver pays for one flush
 * per fsync duration, not per commit.
 */
import fs from 'node:fs';
import { dirname } from 'node:path';

type Deferred = { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void };

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const fsync = (fd: number): Promise<void> => new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));

export class WalSync {
  private fd: number | undefined;
  private running = false;
  /**
   * The first failed flush. After it nothing is called durable again until the store is reopened: Linux
   * may drop the dirty pages a failed fsync could not write, so a later fsync "succeeding" proves nothing.
   */
  private failure: Error | undefined;
  /** Commits made while an fsync was running: they need the next one. */
  private next: Deferred | undefined;
  private closed = false;

  /** `walPath` is the database path + "-wal"; it exists once the first transaction has committed. */
  constructor(private readonly walPath: string) {}

  /** Resolves once everything committed before this call is on the disk. */
  sync(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('the store is closed'));
    if (this.failure) return Promise.reject(this.failure);
    if (!this.next) this.next = deferred();
    const waiter = this.next.promise;
    if (!this.running) void this.drain();
    return waiter;
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.next && !this.closed) {
      const round = this.next;
      this.next = undefined;
      try {
        if (this.failure) throw this.failure;
        await fsync(this.open());
        round.resolve();
      } catch (err) {
        this.failure ??= new Error(`the disk did not take the store's writes (${(err as Error).message}); restart Node-RED once the disk is healthy`);
        round.reject(this.failure);
      }
    }
    this.running = false;
  }

  private open(): number {
    if (this.fd === undefined) {
      this.fd = fs.openSync(this.walPath, 'r');
      // A newly created -wal file needs its directory entry on the disk too.
      const dir = fs.openSync(dirname(this.walPath), 'r');
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
    }
    return this.fd;
  }

  /** A last flush in the foreground for whatever is still waiting, then the descriptor is released. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const waiting = this.next;
    this.next = undefined;
    try {
      if (this.fd !== undefined || waiting) fs.fsyncSync(this.open());
      waiting?.resolve();
    } catch (err) {
      waiting?.reject(err);
    }
    // An fsync still queued on the thread pool may now fail (its promise rejects): what it was for is
    // on the disk already, through the fsync above.
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
