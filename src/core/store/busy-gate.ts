/**
 * What keeps a busy database from stalling Node-RED. better-sqlite3 is synchronous: while another process
 * holds the write lock, every statement that needs it waits up to `busy_timeout` on the event loop, then
 * fails with SQLITE_BUSY. So the wait is short (BUSY_TIMEOUT_MS), and after a SQLITE_BUSY the store
 * refuses writes for a short spell without touching SQLite at all (a burst of pushes must not each pay
 * the wait); reads are refused too only when a read was the one that found the database busy (a rollback
 * journal: under WAL, readers never wait for the writer). The spell grows while the database stays
 * busy and ends with the first statement that works again.
 */

/** How long one statement may wait for a lock held by another connection (SQLite's busy_timeout). */
export const BUSY_TIMEOUT_MS = 50;
/** The first fail-fast spell after a SQLITE_BUSY; doubled while the database stays busy, up to the max. */
export const BUSY_SPELL_MIN_MS = 250;
export const BUSY_SPELL_MAX_MS = 2000;

/** Refused without asking SQLite, during a spell: same code as SQLite's own, so callers treat it alike. */
export class StoreBusyError extends Error {
  readonly code = 'SQLITE_BUSY';
  constructor() {
    super('database is locked by another connection (store busy; retrying shortly)');
    this.name = 'StoreBusyError';
  }
}

export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED');
}

export class BusyGate {
  private writesRefusedUntil = 0;
  private readsRefusedUntil = 0;
  private spellMs = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Runs a statement that writes (or a whole write transaction), unless a busy spell is on. */
  write<T>(fn: () => T): T {
    return this.run(fn, false);
  }

  /** Runs a read; refused only while reads themselves were found blocked. */
  read<T>(fn: () => T): T {
    return this.run(fn, true);
  }

  /** Whether writes are being refused right now. */
  get busy(): boolean {
    return this.now() < this.writesRefusedUntil;
  }

  private run<T>(fn: () => T, read: boolean): T {
    const now = this.now();
    if (now < (read ? this.readsRefusedUntil : this.writesRefusedUntil)) throw new StoreBusyError();
    let result: T;
    try {
      result = fn();
    } catch (err) {
      if (isBusy(err)) this.startSpell(read);
      throw err;
    }
    if (!read) {
      // A write went through: the lock is free again, and the next busy spell starts short.
      this.writesRefusedUntil = this.readsRefusedUntil = this.spellMs = 0;
    } else if (this.readsRefusedUntil > 0) {
      // Reads were blocked (rollback journal) and work again; writes find out for themselves.
      this.readsRefusedUntil = this.spellMs = 0;
    }
    return result;
  }

  private startSpell(read: boolean): void {
    this.spellMs = this.spellMs === 0 ? BUSY_SPELL_MIN_MS : Math.min(BUSY_SPELL_MAX_MS, this.spellMs * 2);
    const until = this.now() + this.spellMs;
    this.writesRefusedUntil = until;
    if (read) this.readsRefusedUntil = until;
  }
}
