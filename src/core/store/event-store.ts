/**
 * The hub's durable state in one SQLite file (WAL): an inbox of received events, which is also the
 * de-duplication window, and an outbox of deliveries keyed by (subscriber, event).
 * Every write goes through group commit, under `synchronous = NORMAL` (frames reach the WAL in commit
 * order, without a flush inside the commit). Inbox writes are durable: accept() resolves only after an
 * fsync of the WAL, run off the main thread (wal-sync.ts), has completed; that is what lets a receiver
 * answer `success`. Outbox writes (queueing, delivered, failed) are not flushed on their own: the next
 * flush covers them, and a power cut can only lose a tail of them. Losing that tail is safe: a
 * receiver's events stay "not handed on" (and are emitted again after a restart, so dispatch queues
 * them again) until a flushed write 30 s after receipt marks them handed on, which also flushes every
 * queueing before it; a lost "delivered" mark means one more delivery of the same webhook-id, which
 * at-least-once allows. A process crash loses nothing: committed frames are in the OS already.
 * Backlogs live here, never in memory: workers read due deliveries a page at a time.
 * A file deleted or replaced under the open store is noticed before anything more is acknowledged, and
 * restored from the open connection by the same object (file-recovery.ts).
 * Every statement goes through a busy gate (busy-gate.ts): another process holding the write lock
 * costs the event loop at most BUSY_TIMEOUT_MS now and then, and the store fails fast meanwhile.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BusyGate, BUSY_TIMEOUT_MS } from './busy-gate';
import { type EventQuery, type EventSearchResult, needles, normaliseQuery, matches, type StoredEvent } from './event-query';
import { FileRecovery, type StoreEventListener } from './file-recovery';
import { GroupCommit } from './group-commit';
import { WalSync } from './wal-sync';
import { batchRows, type CounterBatch, type CounterSnapshot, MINUTE_RETENTION_MS, type MinutePoint, minuteOf } from './counter-store';

export type DeliveryState = 'queued' | 'delivered' | 'dead';

/** A dispatch node's outbox queue, or a receiver's inbox rows. */
export type OrphanKind = 'subscriber' | 'receiver';

export interface OrphanMark {
  kind: OrphanKind;
  id: string;
  /** When the housekeeper first saw it missing from the deployed flows. */
  since: number;
}

/** Group-commit flag for outbox writes: committed, flushed with the next durable write (see above). */
const RELAXED = false;

export interface InboxRow {
  seq: number;
  eventId: string;
  receiver: string;
  receivedAt: number;
  message: string;
}

export interface Delivery {
  id: number;
  subscriber: string;
  eventId: string;
  eventType: string;
  body: string;
  state: DeliveryState;
  attempts: number;
  nextAt: number;
  createdAt: number;
  updatedAt: number;
  lastStatus: number | null;
  lastError: string | null;
}

interface DeliveryRow {
  id: number;
  subscriber: string;
  event_id: string;
  event_type: string;
  body: string;
  state: DeliveryState;
  attempts: number;
  next_at: number;
  created_at: number;
  updated_at: number;
  last_status: number | null;
  last_error: string | null;
}

const toDelivery = (r: DeliveryRow): Delivery => ({
  id: r.id,
  subscriber: r.subscriber,
  eventId: r.event_id,
  eventType: r.event_type,
  body: r.body,
  state: r.state,
  attempts: r.attempts,
  nextAt: r.next_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastStatus: r.last_status,
  lastError: r.last_error,
});

/**
 * The inbox: `scope` is the app that received the event (the dingtalk-app node's id): event identity and
 * de-duplication are per app, so two apps of one company that receive the same content each keep it.
 * Rows written before scopes existed have scope '' and still count as duplicates for every app.
 */
const INBOX = `
CREATE TABLE IF NOT EXISTS inbox (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id    TEXT NOT NULL,
  scope       TEXT NOT NULL DEFAULT '',
  receiver    TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  handed      INTEGER NOT NULL DEFAULT 0,
  message     TEXT NOT NULL,
  content_key TEXT
);
`;
const INBOX_INDEXES = `
CREATE UNIQUE INDEX IF NOT EXISTS inbox_event ON inbox (event_id, scope);
CREATE INDEX IF NOT EXISTS inbox_pending ON inbox (receiver, handed, seq);
CREATE INDEX IF NOT EXISTS inbox_age ON inbox (received_at);
CREATE INDEX IF NOT EXISTS inbox_content ON inbox (content_key);
`;
/** Stores from before scopes (event_id unique across the store) are rebuilt once, rows kept, scope ''. */
const INBOX_MIGRATION = `
ALTER TABLE inbox RENAME TO inbox_unscoped;
${INBOX}
INSERT INTO inbox (seq, event_id, scope, receiver, received_at, handed, message, content_key)
  SELECT seq, event_id, '', receiver, received_at, handed, message, content_key FROM inbox_unscoped;
DROP TABLE inbox_unscoped;
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  subscriber  TEXT NOT NULL,
  event_id    TEXT NOT NULL,
  event_type  TEXT NOT NULL DEFAULT '',
  body        TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'queued',
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_at     INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  last_status INTEGER,
  last_error  TEXT,
  UNIQUE (subscriber, event_id)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (subscriber, state, next_at);
CREATE INDEX IF NOT EXISTS outbox_order ON outbox (subscriber, state, id);
CREATE INDEX IF NOT EXISTS outbox_delivered ON outbox (updated_at) WHERE state = 'delivered';
CREATE TABLE IF NOT EXISTS orphans (
  kind  TEXT NOT NULL,
  id    TEXT NOT NULL,
  since INTEGER NOT NULL,
  PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS counters (
  name TEXT PRIMARY KEY,
  n    INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS counter_times (
  name TEXT PRIMARY KEY,
  at   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS minute_counts (
  name   TEXT NOT NULL,
  minute INTEGER NOT NULL,
  n      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (name, minute)
);
CREATE INDEX IF NOT EXISTS minute_counts_age ON minute_counts (minute);
`;

/** An inbox row as the event center reads it (event-query.ts StoredEvent). */
const STORED_EVENT = 'event_id AS eventId, scope, receiver, received_at AS receivedAt, handed, message';

/** The distinct values of an indexed column's prefix, one index seek each (a skip scan), not a full scan. */
const distinct = (table: string, column: string) => `
WITH RECURSIVE seen(v) AS (
  SELECT MIN(${column}) FROM ${table}
  UNION ALL SELECT (SELECT MIN(${column}) FROM ${table} WHERE ${column} > seen.v) FROM seen WHERE seen.v IS NOT NULL
) SELECT v FROM seen WHERE v IS NOT NULL`;

/** Rebuilds an inbox from before per-app scopes (event_id unique across the store), keeping its rows. */
function migrateInbox(db: Database.Database): void {
  const columns = db.prepare('PRAGMA table_info(inbox)').all() as { name: string }[];
  if (columns.length === 0) db.exec(INBOX);
  else if (!columns.some((c) => c.name === 'scope')) {
    if (!columns.some((c) => c.name === 'content_key')) db.exec('ALTER TABLE inbox ADD COLUMN content_key TEXT');
    db.exec('DROP INDEX IF EXISTS inbox_pending; DROP INDEX IF EXISTS inbox_age; DROP INDEX IF EXISTS inbox_content;');
    db.transaction(() => db.exec(INBOX_MIGRATION))();
  }
  db.exec(INBOX_INDEXES);
}

/** Every statement the store runs, prepared on a connection (again after the file was restored). */
function prepareStatements(db: Database.Database) {
  return {
    inboxHas: db.prepare("SELECT 1 FROM inbox WHERE event_id = ? AND scope IN (?, '')").pluck(),
    inboxHasKey: db.prepare('SELECT 1 FROM inbox WHERE content_key = ?').pluck(),
    inboxInsert: db.prepare('INSERT OR IGNORE INTO inbox (event_id, scope, receiver, received_at, message, content_key) VALUES (?, ?, ?, ?, ?, ?)'),
    inboxForget: db.prepare('DELETE FROM inbox WHERE event_id = ? AND scope = ? AND receiver = ? AND handed = 0'),
    inboxPending: db.prepare('SELECT seq, event_id AS eventId, receiver, received_at AS receivedAt, message FROM inbox WHERE receiver = ? AND handed = 0 ORDER BY seq'),
    inboxMessage: db.prepare('SELECT message FROM inbox WHERE event_id = ? AND receiver = ? AND handed = 0').pluck(),
    inboxHand: db.prepare('UPDATE inbox SET handed = 1 WHERE event_id = ? AND receiver = ? AND handed = 0'),
    inboxPrune: db.prepare('DELETE FROM inbox WHERE received_at < ? AND handed = 1'),
    outboxInsert: db.prepare(
      'INSERT OR IGNORE INTO outbox (subscriber, event_id, event_type, body, next_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    outboxHas: db.prepare('SELECT 1 FROM outbox WHERE subscriber = ? AND event_id = ?').pluck(),
    dueIds: db.prepare("SELECT id FROM outbox WHERE subscriber = ? AND state = 'queued' AND next_at <= ? ORDER BY next_at, id LIMIT ?").pluck(),
    head: db.prepare("SELECT * FROM outbox WHERE subscriber = ? AND state = 'queued' ORDER BY id LIMIT 1"),
    nextDue: db.prepare("SELECT id, next_at AS nextAt FROM outbox WHERE subscriber = ? AND state = 'queued' ORDER BY next_at, id LIMIT ?"),
    byId: db.prepare('SELECT * FROM outbox WHERE id = ?'),
    delivered: db.prepare("UPDATE outbox SET state = 'delivered', attempts = attempts + 1, last_status = ?, last_error = NULL, updated_at = ? WHERE id = ?"),
    failed: db.prepare('UPDATE outbox SET state = ?, attempts = attempts + 1, next_at = ?, last_status = ?, last_error = ?, updated_at = ? WHERE id = ?'),
    wakeAll: db.prepare("UPDATE outbox SET next_at = ? WHERE subscriber = ? AND state = 'queued' AND next_at > ?"),
    counts: db.prepare('SELECT state, COUNT(*) AS n FROM outbox WHERE subscriber = ? GROUP BY state'),
    list: db.prepare('SELECT * FROM outbox WHERE subscriber = ? AND state = ? ORDER BY id DESC LIMIT ? OFFSET ?'),
    replayOne: db.prepare("UPDATE outbox SET state = 'queued', attempts = 0, next_at = ?, updated_at = ? WHERE id = ? AND subscriber = ? AND state = 'dead'"),
    replayAll: db.prepare("UPDATE outbox SET state = 'queued', attempts = 0, next_at = ?, updated_at = ? WHERE subscriber = ? AND state = 'dead'"),
    pruneDelivered: db.prepare("DELETE FROM outbox WHERE subscriber = ? AND state = 'delivered' AND updated_at < ?"),
    // Housekeeping (housekeeper.ts): at most `limit` rows per statement, so no call holds the event loop long.
    pruneInboxSome: db.prepare('DELETE FROM inbox WHERE seq IN (SELECT seq FROM inbox WHERE received_at < ? AND handed = 1 LIMIT ?)'),
    pruneDeliveredSome: db.prepare("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE state = 'delivered' AND updated_at < ? LIMIT ?)"),
    subscribers: db.prepare(distinct('outbox', 'subscriber')).pluck(),
    receivers: db.prepare(distinct('inbox', 'receiver')).pluck(),
    queueSize: db.prepare('SELECT COUNT(*) FROM outbox WHERE subscriber = ?').pluck(),
    pendingCount: db.prepare('SELECT COUNT(*) FROM inbox WHERE receiver = ? AND handed = 0').pluck(),
    dropQueueSome: db.prepare('DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE subscriber = ? LIMIT ?)'),
    giveUpSome: db.prepare('UPDATE inbox SET handed = 1 WHERE seq IN (SELECT seq FROM inbox WHERE receiver = ? AND handed = 0 LIMIT ?)'),
    // The event center (event-query.ts): by event id from its index; otherwise a window of the newest
    // events of a time range (inbox_age), narrowed by texts the message must contain.
    inboxById: db.prepare(`SELECT ${STORED_EVENT} FROM inbox WHERE event_id = ? ORDER BY received_at DESC, seq DESC`),
    inboxWindow: db.prepare('SELECT COUNT(*) FROM (SELECT 1 FROM inbox WHERE received_at >= ? AND received_at <= ? ORDER BY received_at DESC LIMIT ?)').pluck(),
    inboxSearch: db.prepare(
      `SELECT ${STORED_EVENT} FROM inbox WHERE seq IN (SELECT seq FROM inbox WHERE received_at >= ? AND received_at <= ? ORDER BY received_at DESC LIMIT ?)
       AND instr(message, ?) > 0 AND instr(message, ?) > 0 AND instr(message, ?) > 0 ORDER BY received_at DESC, seq DESC LIMIT ?`,
    ),
    // One seek of (subscriber, event_id) per subscriber, not a scan of the outbox.
    deliveriesOf: db.prepare(`SELECT * FROM outbox WHERE event_id = ? AND subscriber IN (${distinct('outbox', 'subscriber')}) ORDER BY subscriber`),
    perMinute: db.prepare('SELECT CAST((received_at - ?) / 60000 AS INTEGER) AS minute, COUNT(*) AS n FROM inbox WHERE received_at >= ? AND received_at < ? GROUP BY minute'),
    orphanMarks: db.prepare('SELECT kind, id, since FROM orphans'),
    markOrphan: db.prepare('INSERT OR IGNORE INTO orphans (kind, id, since) VALUES (?, ?, ?)'),
    clearOrphan: db.prepare('DELETE FROM orphans WHERE kind = ? AND id = ?'),
    // Counters (counter-store.ts): added to, never set.
    counterAdd: db.prepare('INSERT INTO counters (name, n) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET n = n + excluded.n'),
    counterLatest: db.prepare('INSERT INTO counter_times (name, at) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET at = MAX(at, excluded.at)'),
    minuteAdd: db.prepare('INSERT INTO minute_counts (name, minute, n) VALUES (?, ?, ?) ON CONFLICT (name, minute) DO UPDATE SET n = n + excluded.n'),
    minutePrune: db.prepare('DELETE FROM minute_counts WHERE minute < ?'),
    counters: db.prepare('SELECT name, n FROM counters'),
    counterTimes: db.prepare('SELECT name, at FROM counter_times'),
    minuteSeries: db.prepare('SELECT minute, n AS count FROM minute_counts WHERE name = ? AND minute >= ? AND minute <= ? ORDER BY minute'),
    headCreated: db.prepare("SELECT created_at FROM outbox WHERE subscriber = ? AND state = 'queued' ORDER BY id LIMIT 1").pluck(),
  };
}

const NONE: ReadonlySet<number> = new Set();
/** SQLite's page cache per connection, in KiB (its own default is 2,000; better-sqlite3's 16,000). */
const CACHE_KIB = 4000;
/** While opening (schema, migration: once per deploy) a lock held elsewhere may be waited for longer. */
const OPEN_BUSY_TIMEOUT_MS = 2000;

export interface StoreOptions {
  now?: () => number;
  /** Told when the file is lost, restored, or cannot be restored (see file-recovery.ts). */
  onEvent?: StoreEventListener;
  /** How often the file's identity is checked besides after every durable flush. */
  fileCheckMs?: number;
}

export class EventStore {
  readonly path: string;
  // Replaced together by openDatabase() when the file is restored after a loss (file-recovery.ts).
  private db!: Database.Database;
  private walSync: WalSync | undefined;
  private statements!: ReturnType<typeof prepareStatements>;
  private readonly commit: GroupCommit;
  /** The store's clock (ms): due times and leases are judged on it. */
  readonly now: () => number;
  /** Accepts waiting for the current batch, so a duplicate arriving meanwhile is recognised. */
  private readonly inFlight = new Map<string, Promise<void>>();
  /** Durable batches between their commit and their acknowledgement. */
  private readonly flushing = new Set<Promise<void>>();
  private readonly recovery: FileRecovery | undefined;
  private readonly gate: BusyGate;

  constructor(path: string, options: StoreOptions = {}) {
    this.path = path;
    this.now = options.now ?? Date.now;
    this.gate = new BusyGate();
    this.commit = new GroupCommit((body, durable) => this.commitBatch(body, durable));
    this.openDatabase();
    if (path !== ':memory:') {
      try {
        this.recovery = new FileRecovery(path, {
          connection: () => (this.db.open ? this.db : undefined),
          settle: () => this.settle(),
          closeConnection: () => this.closeConnection(),
          openConnection: () => this.openDatabase(),
        }, options.onEvent, options.fileCheckMs);
      } catch (err) {
        this.closeConnection();
        throw err;
      }
    }
  }

  /** Opens the database at this.path (also to reopen it after a restore) and prepares its statements. */
  private openDatabase(): void {
    const path = this.path;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    try {
      // Some file systems (network shares) cannot hold a WAL; SQLite then keeps its rollback journal, and
      // the store falls back to flushing inside each commit (synchronous FULL), which is slower but as safe.
      const wal = db.pragma('journal_mode = WAL', { simple: true }) === 'wal';
      db.pragma(wal ? 'synchronous = NORMAL' : 'synchronous = FULL'); // with a WAL, WalSync flushes (see above)
      db.pragma(`busy_timeout = ${OPEN_BUSY_TIMEOUT_MS}`);
      // better-sqlite3 builds SQLite with a 16 MB page cache per connection, which a backlog fills (the status's
      // counts read the whole queue index) and which then stays in Node-RED's memory. The hub reads by index
      // only, and the OS keeps the file cached anyway: a small cache costs no measurable throughput.
      db.pragma(`cache_size = ${-CACHE_KIB}`);
      db.exec(SCHEMA);
      migrateInbox(db);
      // From now on statements run on the event loop at any time: never wait long (busy-gate.ts).
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      this.statements = prepareStatements(db);
      this.walSync = wal && path !== ':memory:' ? new WalSync(`${path}-wal`) : undefined;
    } catch (err) {
      db.close(); // not a usable store (not a database, read-only...): let go of the file
      throw err;
    }
    this.db = db;
  }

  private closeConnection(): void {
    this.walSync?.close();
    this.walSync = undefined;
    if (this.db.open) this.db.close();
  }

  /**
   * One group-commit batch. A durable one is acknowledged only once flushed AND the flushed file is still
   * the one at the path (one stat per batch, not per write): a deleted file takes writes as well.
   */
  private commitBatch(body: () => void, durable: boolean): void | Promise<void> {
    this.gate.write(() => this.db.transaction(body)());
    if (!durable) return;
    const verify = () => this.recovery?.verify();
    if (!this.walSync) return verify();
    const flushed = this.walSync.sync().then(verify, (err: unknown) => {
      verify(); // a lost file explains a failed flush (its -wal gone) better than the flush error
      throw err;
    });
    this.flushing.add(flushed);
    const done = () => this.flushing.delete(flushed);
    flushed.then(done, done);
    return flushed;
  }

  /** Commits what is queued and waits for every flush in flight (before the file is restored). */
  private async settle(): Promise<void> {
    this.commit.flush();
    await Promise.allSettled([...this.flushing]);
  }

  // --- inbox -------------------------------------------------------------------------------------

  /**
   * Records an event `receiver` received for the app `scope` unless that app already has its id. Resolves
   * 'new' once the row is on disk (only then may DingTalk be told `success`), 'duplicate' when the app
   * saw the event before. `contentKey` (already scoped to the app) recognises the same event arriving
   * another way.
   */
  async accept(eventId: string, receiver: string, message: unknown, contentKey?: string, scope = ''): Promise<'new' | 'duplicate'> {
    const flightKey = `${scope}\u0000${eventId}`;
    // While the file is lost not even a duplicate is acknowledged: its row may be in the lost file only.
    const refused = this.recovery?.refusal();
    if (refused) throw refused;
    const pending = this.inFlight.get(flightKey) ?? (contentKey !== undefined ? this.inFlight.get(contentKey) : undefined);
    if (pending) {
      await pending;
      return 'duplicate';
    }
    if (this.read(() => this.statements.inboxHas.get(eventId, scope))) return 'duplicate';
    // The same event reaching us another way (a live push and its failed-list entry) has the same key.
    if (contentKey !== undefined && this.read(() => this.statements.inboxHasKey.get(contentKey))) return 'duplicate';
    const text = JSON.stringify(message);
    const written = this.commit.write(() => {
      this.statements.inboxInsert.run(eventId, scope, receiver, this.now(), text, contentKey ?? null);
    });
    this.inFlight.set(flightKey, written);
    if (contentKey !== undefined) this.inFlight.set(contentKey, written);
    try {
      await written;
    } catch (err) {
      // Committed but not flushed (or not committed at all): not acknowledged, so DingTalk sends it again,
      // and that copy must not be taken for a duplicate of a row nobody was told about.
      try {
        this.gate.write(() => this.statements.inboxForget.run(eventId, scope, receiver));
      } catch {
        // the store is failing anyway; the caller answers "not stored"
      }
      throw err;
    } finally {
      this.inFlight.delete(flightKey);
      if (contentKey !== undefined) this.inFlight.delete(contentKey);
    }
    return 'new';
  }

  /** Events a receiver acknowledged that may not have reached every dispatch node yet. */
  pendingInbox(receiver: string): InboxRow[] {
    return this.read(() => this.statements.inboxPending.all(receiver) as InboxRow[]);
  }

  /** The stored message of a receiver's event that is not handed on yet (for emitting it again). */
  pendingMessage(receiver: string, eventId: string): string | undefined {
    return this.read(() => this.statements.inboxMessage.get(eventId, receiver) as string | undefined);
  }

  /**
   * Marks events of a receiver as handed on: every message derived from them finished in the flow, so
   * every dispatch node has committed its queueing before this write (it follows them in the WAL, so it
   * cannot outlive them in a crash or a power cut). Not flushed on its own; resolves with how many rows changed.
   */
  async markHanded(receiver: string, eventIds: readonly string[], stillDone: (eventId: string) => boolean = () => true): Promise<number> {
    let changes = 0;
    await this.commit.write(() => {
      // Asked again when the write runs (a turn later): a message may have been sent on meanwhile.
      for (const id of eventIds) if (stillDone(id)) changes += this.statements.inboxHand.run(id, receiver).changes;
    }, RELAXED);
    return changes;
  }

  // --- outbox ------------------------------------------------------------------------------------

  /** Queues a delivery of `body` to `subscriber`; 'duplicate' if that subscriber already has the event. */
  async enqueue(subscriber: string, eventId: string, eventType: string, body: string, delayMs = 0): Promise<'new' | 'duplicate'> {
    const refused = this.recovery?.refusal();
    if (refused) throw refused;
    if (this.read(() => this.statements.outboxHas.get(subscriber, eventId))) return 'duplicate';
    let inserted = false;
    await this.commit.write(() => {
      const now = this.now();
      inserted = this.statements.outboxInsert.run(subscriber, eventId, eventType, body, now + delayMs, now, now).changes === 1;
    }, RELAXED);
    return inserted ? 'new' : 'duplicate';
  }

  /** The ids of up to `limit` queued deliveries due now, earliest first, from the index alone (no bodies). */
  dueIds(subscriber: string, limit: number): number[] {
    return this.read(() => this.statements.dueIds.all(subscriber, this.now(), limit) as number[]);
  }

  /** The oldest queued delivery (ordered mode delivers strictly in this order). */
  head(subscriber: string): Delivery | undefined {
    const row = this.read(() => this.statements.head.get(subscriber) as DeliveryRow | undefined);
    return row ? toDelivery(row) : undefined;
  }

  /** When the next queued delivery not in `skip` (those in flight) falls due; undefined when there is none. */
  nextDueAt(subscriber: string, skip: ReadonlySet<number> = NONE): number | undefined {
    // From the (subscriber, state, next_at) index: at most skip.size + 1 rows, the first not skipped.
    const rows = this.read(() => this.statements.nextDue.all(subscriber, skip.size + 1) as { id: number; nextAt: number }[]);
    return rows.find((r) => !skip.has(r.id))?.nextAt;
  }

  get(id: number): Delivery | undefined {
    const row = this.read(() => this.statements.byId.get(id) as DeliveryRow | undefined);
    return row ? toDelivery(row) : undefined;
  }

  recordDelivered(id: number, status: number): Promise<void> {
    return this.commit.write(() => {
      this.statements.delivered.run(status, this.now(), id);
    }, RELAXED);
  }

  /** A failed attempt: queued again at `nextAt`, or dead when `nextAt` is undefined. */
  recordFailed(id: number, outcome: { nextAt?: number; status?: number; error?: string }): Promise<void> {
    return this.commit.write(() => {
      const state: DeliveryState = outcome.nextAt === undefined ? 'dead' : 'queued';
      this.statements.failed.run(state, outcome.nextAt ?? 0, outcome.status ?? null, outcome.error ?? null, this.now(), id);
    }, RELAXED);
  }

  /** The endpoint answered again: everything queued becomes due now. */
  wakeAll(subscriber: string): Promise<void> {
    return this.commit.write(() => {
      const now = this.now();
      this.statements.wakeAll.run(now, subscriber, now);
    });
  }

  counts(subscriber: string): Record<DeliveryState, number> {
    const out: Record<DeliveryState, number> = { queued: 0, delivered: 0, dead: 0 };
    for (const row of this.read(() => this.statements.counts.all(subscriber) as { state: DeliveryState; n: number }[])) out[row.state] = row.n;
    return out;
  }

  list(subscriber: string, state: DeliveryState, limit = 100, offset = 0): Delivery[] {
    return this.read(() => this.statements.list.all(subscriber, state, limit, offset) as DeliveryRow[]).map(toDelivery);
  }

  /** Puts dead letters back in the queue (one by id, or all of a subscriber's); returns how many. */
  async replay(subscriber: string, id?: number): Promise<number> {
    let changed = 0;
    await this.commit.write(() => {
      const now = this.now();
      changed = (id === undefined
        ? this.statements.replayAll.run(now, now, subscriber)
        : this.statements.replayOne.run(now, now, id, subscriber)).changes;
    });
    return changed;
  }

  /**
   * Forgets handed-on inbox rows received before `before` (the end of the de-duplication window), at most
   * `limit` of them (all without a limit).
   */
  pruneInbox(before: number, limit?: number): number {
    if (limit === undefined) return this.gate.write(() => this.statements.inboxPrune.run(before).changes);
    return this.gate.write(() => this.statements.pruneInboxSome.run(before, limit).changes);
  }

  /** Forgets up to `limit` delivered rows, of any subscriber, last updated before `before`. */
  pruneAllDelivered(before: number, limit: number): number {
    return this.gate.write(() => this.statements.pruneDeliveredSome.run(before, limit).changes);
  }

  /** Every subscriber (dispatch node id) with rows in the outbox, in any state. */
  subscribers(): string[] {
    return this.read(() => this.statements.subscribers.all() as string[]);
  }

  /** Every receiver with rows in the inbox, handed on or not. */
  receivers(): string[] {
    return this.read(() => this.statements.receivers.all() as string[]);
  }

  /** How many outbox rows a subscriber has, in any state. */
  queueSize(subscriber: string): number {
    return this.read(() => this.statements.queueSize.get(subscriber) as number);
  }

  /** How many of a receiver's events are not handed on. */
  pendingCount(receiver: string): number {
    return this.read(() => this.statements.pendingCount.get(receiver) as number);
  }

  /** Deletes up to `limit` outbox rows of a subscriber, in any state; returns how many. */
  dropQueue(subscriber: string, limit: number): number {
    return this.gate.write(() => this.statements.dropQueueSome.run(subscriber, limit).changes);
  }

  /**
   * Marks up to `limit` of a receiver's events handed on without emitting them (its node is gone): they
   * still count for de-duplication until the window ends, then go with the other handed-on rows.
   */
  giveUpPending(receiver: string, limit: number): number {
    return this.gate.write(() => this.statements.giveUpSome.run(receiver, limit).changes);
  }

  /** Subscribers and receivers seen missing from the deployed flows, and since when (kept across restarts). */
  orphanMarks(): OrphanMark[] {
    return this.read(() => this.statements.orphanMarks.all() as OrphanMark[]);
  }

  /** Records when an orphan was first seen; an existing mark keeps its time. */
  markOrphan(kind: OrphanKind, id: string, since: number): void {
    this.gate.write(() => this.statements.markOrphan.run(kind, id, since));
  }

  clearOrphan(kind: OrphanKind, id: string): void {
    this.gate.write(() => this.statements.clearOrphan.run(kind, id));
  }

  // --- counters (counter-store.ts) ----------------------------------------------------------------

  /** Adds a batch in one relaxed write (flushed with the next durable one), and forgets old minutes. */
  addCounts(batch: CounterBatch): Promise<void> {
    const rows = batchRows(batch);
    if (rows.length === 0) return Promise.resolve();
    return this.commit.write(() => {
      for (const row of rows) {
        if (row.kind === 'add') this.statements.counterAdd.run(row.name, row.amount);
        else if (row.kind === 'latest') this.statements.counterLatest.run(row.name, row.amount);
        else this.statements.minuteAdd.run(row.name, row.minute, row.amount);
      }
      this.statements.minutePrune.run(minuteOf(this.now() - MINUTE_RETENTION_MS));
    }, RELAXED);
  }

  readCounts(): CounterSnapshot {
    return this.read(() => ({
      totals: Object.fromEntries((this.statements.counters.all() as { name: string; n: number }[]).map((r) => [r.name, r.n])),
      latest: Object.fromEntries((this.statements.counterTimes.all() as { name: string; at: number }[]).map((r) => [r.name, r.at])),
    }));
  }

  minuteSeries(name: string, since: number, until: number): MinutePoint[] {
    return this.read(() => this.statements.minuteSeries.all(name, since, until) as MinutePoint[]);
  }

  /** When the subscriber's oldest queued delivery (the head) was first queued; undefined when none is. */
  oldestQueuedAt(subscriber: string): number | undefined {
    return this.read(() => this.statements.headCreated.get(subscriber) as number | undefined);
  }

  /** Forgets a subscriber's delivered rows last updated before `before`. */
  pruneDelivered(subscriber: string, before: number): number {
    return this.gate.write(() => this.statements.pruneDelivered.run(subscriber, before).changes);
  }

  // --- event center ------------------------------------------------------------------------------

  /** Inbox events matching the query, newest first (see EventCenterStore.searchEvents). */
  searchEvents(query: EventQuery): EventSearchResult {
    const q = normaliseQuery(query);
    type Row = Omit<StoredEvent, 'handed'> & { handed: number };
    const toEvent = (r: Row): StoredEvent => ({ ...r, handed: r.handed === 1 });
    if (q.eventId !== undefined) {
      const rows = this.read(() => this.statements.inboxById.all(q.eventId) as Row[]).map(toEvent);
      return { events: rows.filter((e) => matches(e, q)).slice(0, q.limit), scanned: rows.length, complete: true };
    }
    const from = q.from ?? 0;
    const to = q.to ?? Number.MAX_SAFE_INTEGER;
    const inWindow = this.read(() => this.statements.inboxWindow.get(from, to, q.scanLimit + 1) as number);
    // Twice the limit: the texts are only a filter, matches() decides (a user id may sit in another field).
    const rows = this.read(() => this.statements.inboxSearch.all(from, to, q.scanLimit, ...needles(q), q.limit * 2) as Row[]);
    return { events: rows.map(toEvent).filter((e) => matches(e, q)).slice(0, q.limit), scanned: Math.min(inWindow, q.scanLimit), complete: inWindow <= q.scanLimit };
  }

  /** Every subscriber's delivery of an event. */
  deliveriesOf(eventId: string): Delivery[] {
    return this.read(() => this.statements.deliveriesOf.all(eventId) as DeliveryRow[]).map(toDelivery);
  }

  /** Events received in each minute from `from`, oldest first. */
  eventsPerMinute(from: number, minutes: number): number[] {
    const counts = new Array<number>(Math.max(0, minutes)).fill(0);
    const rows = this.read(() => this.statements.perMinute.all(Math.floor(from), Math.floor(from), Math.floor(from) + minutes * 60_000) as { minute: number; n: number }[]);
    for (const row of rows) if (row.minute >= 0 && row.minute < counts.length) counts[row.minute] = row.n;
    return counts;
  }

  /** A read through the busy gate (refused at once while reads are known to be blocked). */
  private read<T>(fn: () => T): T {
    return this.gate.read(fn);
  }

  close(): void {
    this.commit.flush();
    this.recovery?.close(); // a lost file is restored before the connection holding its data closes
    this.closeConnection();
  }
}
