/**
 * Watches the store's files and recovers when one is deleted or replaced while the store is open.
 *
 * An open SQLite connection goes on reading and writing the file it opened after that file was deleted
 * (or another one moved to its path): every write "succeeds", and a restart finds nothing. So:
 * - the identity (device, inode) of `<path>` and `<path>-wal` is recorded at open and compared with what
 *   the paths name after every durable flush, before anything is acknowledged, and on a timer;
 * - once a file is lost the store refuses to acknowledge (the error names the file), lets the writes in
 *   flight settle, copies the live data through the still-open connection, moves any foreign file aside,
 *   puts the copy at the path and reopens the same store object on it (see file-restore.ts);
 * - if that fails it tries again on every tick, and the store keeps refusing until it has worked.
 * Our data wins over a foreign file: it is what the store has acknowledged; the foreign one is kept beside.
 */
import type Database from 'better-sqlite3';
import { fileState, identify, type FileState } from './file-identity';
import { copyLiveDatabase, discard, moveForeignAside, placeCopy, SIBLINGS, type StoreFileIds } from './file-restore';

export const FILE_CHECK_MS = 1000;

/** What the store reports about its file; `message` is an English line for plain loggers. */
export type StoreEvent =
  | { kind: 'file-lost'; path: string; file: string; state: 'deleted' | 'replaced'; message: string }
  | { kind: 'restored'; path: string; movedAside: string[]; message: string }
  | { kind: 'restore-failed'; path: string; error: string; message: string };

export type StoreEventListener = (event: StoreEvent) => void;

/** What the store is refused with while its file is lost (receivers answer 503 / LATER). */
export class StoreFileLostError extends Error {
  readonly code = 'STORE_FILE_LOST';
  constructor(
    readonly file: string,
    readonly state: 'deleted' | 'replaced',
  ) {
    super(
      state === 'deleted'
        ? `the store file ${file} was deleted while in use; nothing is acknowledged until the store has restored it`
        : `the store file ${file} was replaced by another file while in use; nothing is acknowledged until the store has restored it`,
    );
    this.name = 'StoreFileLostError';
  }
}

/** What the recovery needs from the store it guards. */
export interface RecoveryHost {
  /** The open connection; undefined once closed. */
  connection(): Database.Database | undefined;
  /** Commits the writes already queued and waits until every flush in flight has settled. */
  settle(): Promise<void>;
  closeConnection(): void;
  /** Opens the database at the path again (statements, WAL flushing). */
  openConnection(): void;
}

export class FileRecovery {
  private ids: StoreFileIds;
  private failure: StoreFileLostError | undefined;
  private recovering = false;
  private closed = false;
  /** A copy made while the connection was still open, not yet at the path (an attempt failed after closing). */
  private copy: string | undefined;
  private movedAside: string[] = [];
  private lastError: string | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly path: string,
    private readonly host: RecoveryHost,
    private readonly onEvent: StoreEventListener = () => undefined,
    checkMs = FILE_CHECK_MS,
  ) {
    this.ids = this.record();
    this.timer = setInterval(() => this.tick(), checkMs);
    this.timer.unref(); // never what keeps Node-RED alive
  }

  /** The error to refuse acknowledging writes with, while the file is lost. */
  refusal(): Error | undefined {
    return this.failure;
  }

  /**
   * After a durable flush, before its writes are acknowledged: throws when the flushed file is no longer
   * the one at the path (and starts the recovery).
   */
  verify(): void {
    if (this.failure) throw this.failure;
    if (this.closed) return; // close() checked, and restored if needed
    const lost = this.check();
    if (lost) throw this.lose(lost);
  }

  /** When the store closes: a lost file is restored now (synchronously), or its data is gone for good. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    if (!this.failure) {
      const lost = this.check();
      if (lost) this.lose(lost);
    }
    if (!this.failure && this.copy === undefined) return;
    try {
      this.restore(false);
      this.restored();
    } catch (err) {
      this.failed(err);
    }
  }

  private tick(): void {
    if (this.closed || this.recovering) return;
    if (this.failure) {
      void this.recover(); // the last attempt failed: again
      return;
    }
    const lost = this.check();
    if (lost) this.lose(lost);
  }

  /** The first of our files that the path no longer names; undefined when all are in place. */
  private check(): { file: string; state: Exclude<FileState, 'same'> } | undefined {
    try {
      const main = fileState(this.path, this.ids.main);
      if (main !== 'same') return { file: this.path, state: main };
      const wal = this.ids['-wal'];
      if (wal) {
        const state = fileState(`${this.path}-wal`, wal);
        if (state !== 'same') return { file: `${this.path}-wal`, state };
      }
    } catch {
      // stat itself failed (a folder that denies it): proves nothing, the next check tells
    }
    return undefined;
  }

  private lose(lost: { file: string; state: 'deleted' | 'replaced' }): StoreFileLostError {
    const failure = new StoreFileLostError(lost.file, lost.state);
    this.failure = failure;
    this.lastError = undefined;
    this.emit({ kind: 'file-lost', path: this.path, file: lost.file, state: lost.state, message: failure.message });
    if (!this.closed) void this.recover();
    return failure;
  }

  private async recover(): Promise<void> {
    if (this.recovering || this.closed) return;
    this.recovering = true;
    try {
      await this.host.settle();
      if (this.closed) return; // close() has done it
      this.restore(true);
      this.restored();
    } catch (err) {
      this.failed(err);
    } finally {
      this.recovering = false;
    }
  }

  /** Copy, move aside, close, place, and (unless closing) reopen. Each step can be retried after a failure. */
  private restore(reopen: boolean): void {
    const db = this.host.connection();
    if (db) {
      if (this.copy === undefined && this.check() === undefined) return; // put back meanwhile: nothing lost
      const copy = copyLiveDatabase(db, this.path);
      try {
        this.movedAside.push(...moveForeignAside(this.path, this.ids));
      } catch (err) {
        discard(copy);
        throw err;
      }
      this.copy = copy;
      this.host.closeConnection();
    }
    if (this.copy !== undefined) {
      placeCopy(this.copy, this.path);
      this.copy = undefined;
    }
    if (reopen) this.host.openConnection();
    this.ids = this.record();
  }

  private restored(): void {
    const movedAside = this.movedAside;
    this.movedAside = [];
    this.failure = undefined;
    this.lastError = undefined;
    const aside = movedAside.length > 0 ? `; the file found in its place was moved to ${movedAside.join(', ')}` : '';
    this.emit({ kind: 'restored', path: this.path, movedAside, message: `the store file ${this.path} has been restored from the open store${aside}` });
  }

  /** Reported once per distinct error: the timer retries every second. */
  private failed(err: unknown): void {
    const error = (err as Error)?.message ?? String(err);
    if (error === this.lastError) return;
    this.lastError = error;
    const copy = this.copy !== undefined ? ` (its data is in ${this.copy})` : '';
    this.emit({ kind: 'restore-failed', path: this.path, error, message: `the store file ${this.path} could not be restored${copy}: ${error}` });
  }

  private record(): StoreFileIds {
    const main = identify(this.path);
    if (main === undefined) throw new Error(`the store file ${this.path} disappeared while it was being opened`);
    const ids: StoreFileIds = { main };
    // The -wal and -shm exist once a WAL connection has read; without a WAL there is none to watch.
    for (const sibling of SIBLINGS) ids[sibling] = identify(this.path + sibling);
    return ids;
  }

  private emit(event: StoreEvent): void {
    try {
      this.onEvent(event);
    } catch {
      // a logger's failure is not the store's
    }
  }
}
