/**
 * The shared back end of the store contract (store-contract.ts): every instance of a scaled-out hub
 * talks to one Redis (or Valkey, Sentinel, Cluster), whose Lua scripts (scripts.ts) do each operation
 * atomically on the server's clock. What differs from the embedded SQLite back end:
 *   - several instances: each process has an instance id (stable for the process, so a redeploy that
 *     reopens the store keeps its hand-off state) and a heartbeat; an instance whose heartbeat lapsed died
 *     before handing some events on, and another instance adopts them (adoptOrphaned) and emits them;
 *   - leases live in Redis with fencing tokens: a dead instance's claims become due again when they end;
 *   - an accepted event counts as durable once the configured condition holds (durability.ts).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import type { RedisStoreConfig, RedisStoreEvent } from './redis-config';
import { RedisConnection } from './redis-connection';
import { DurabilityWaits } from './durability';
import { type EventQuery, type EventSearchResult, matches, needles, normaliseQuery, type StoredEvent } from '../event-query';
import type { Claim, ClaimOptions, Delivery, DeliveryState, FailedOutcome, HubStore, InboxRow, OrphanKind, OrphanMark } from '../store-contract';
import { batchRows, type CounterBatch, type CounterSnapshot, MAX_SERIES_MINUTES, MINUTE_RETENTION_MS, type MinutePoint } from '../counter-store';

/** One id per process (unless configured): a store reopened by a deploy keeps its hand-off state. */
const PROCESS_INSTANCE = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;

/** Ordered mode: a queued event waits this long for earlier-accepted ones queued by other instances. */
export const ORDERED_SETTLE_MS = 1000;

/** How long an instance counts as alive after its last heartbeat (beats every third of it). */
const DEFAULT_INSTANCE_TIMEOUT_MS = 20_000;

const SETS: Record<DeliveryState, string> = { queued: 'q', delivered: 'done', dead: 'dead' };
const ROW_FIELDS = 13;

function toDelivery(f: unknown[], offset: number): Delivery {
  const s = (i: number): string => (f[offset + i] === null || f[offset + i] === undefined ? '' : String(f[offset + i]));
  const status = s(10);
  return {
    id: Number(s(0)),
    subscriber: s(1),
    eventId: s(2),
    eventType: s(3),
    body: s(4),
    state: s(5) as DeliveryState,
    attempts: Number(s(6)),
    nextAt: Number(s(7)),
    createdAt: Number(s(8)),
    updatedAt: Number(s(9)),
    lastStatus: status === '' ? null : Number(status),
    lastError: s(11) === '' ? null : s(11),
  };
}

const num = (reply: unknown): number => Number(reply);

/** A hash as [field, value] pairs, whether the client answered with a flat array or an object. */
function hashEntries(reply: unknown): [string, string][] {
  return Array.isArray(reply)
    ? Array.from({ length: reply.length / 2 }, (_v, i) => [String(reply[2 * i]), String(reply[2 * i + 1])])
    : Object.entries((reply ?? {}) as Record<string, string>).map(([k, v]) => [k, String(v)]);
}

/** searchInbox / inboxById rows from `offset`: <scope>:<eventId>, receiver, received, handed, message. */
function toStoredEvents(f: unknown[], offset: number): StoredEvent[] {
  const out: StoredEvent[] = [];
  for (let i = offset; i + 5 <= f.length; i += 5) {
    const key = String(f[i]);
    const cut = key.indexOf(':'); // scopes are node ids (no ':'); an event id may hold one
    out.push({ eventId: key.slice(cut + 1), scope: key.slice(0, cut), receiver: String(f[i + 1]), receivedAt: Number(f[i + 2]), handed: String(f[i + 3]) === '1', message: String(f[i + 4]) });
  }
  return out;
}

export interface RedisHubStoreOptions {
  onEvent?: (event: RedisStoreEvent) => void;
  /**
   * Ordered mode: how long a queued head waits before it is claimed, so that an event accepted earlier
   * but queued later (through another instance's flow) still goes first. Default ORDERED_SETTLE_MS.
   */
  orderedSettleMs?: number;
  /** For tests: how long an instance counts as alive without a heartbeat. */
  instanceTimeoutMs?: number;
}

export class RedisHubStore implements HubStore {
  readonly instanceId: string;
  /** Several instances share it: a worker looks at its queue now and then (others queue work too). */
  readonly shared = true;
  readonly target: string;
  private readonly connection: RedisConnection;
  /**
   * Where accepts run when the durability condition makes them wait (WAIT / WAITAOF block their
   * connection): a connection of their own. The main one otherwise.
   */
  private readonly acceptConnection: RedisConnection;
  private readonly waits: DurabilityWaits;
  private readonly instanceTimeoutMs: number;
  private readonly orderedSettleMs: number;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    readonly config: RedisStoreConfig,
    options: RedisHubStoreOptions = {},
  ) {
    this.instanceId = config.instanceId ?? PROCESS_INSTANCE;
    this.instanceTimeoutMs = options.instanceTimeoutMs ?? DEFAULT_INSTANCE_TIMEOUT_MS;
    this.orderedSettleMs = options.orderedSettleMs ?? ORDERED_SETTLE_MS;
    this.connection = new RedisConnection(config, (event) => {
      if (event.kind === 'redis-up') void this.beat();
      options.onEvent?.(event);
    });
    this.target = this.connection.target;
    // Its state is the main connection's to report: what it says goes unheard, its calls fail alike.
    this.acceptConnection = (config.durability ?? 'server') === 'server' ? this.connection : new RedisConnection(config, () => undefined);
    this.waits = new DurabilityWaits(this.acceptConnection, config);
    this.heartbeatTimer = setInterval(() => void this.beat(), Math.max(50, Math.floor(this.instanceTimeoutMs / 3)));
    this.heartbeatTimer.unref?.();
  }

  /** Connected, and the server's settings allow acknowledging. */
  get usable(): boolean {
    return this.connection.usable && this.acceptConnection.usable;
  }

  private async beat(): Promise<void> {
    if (this.closed || !this.connection.usable) return;
    await this.connection.script('heartbeat', [this.instanceId, this.instanceTimeoutMs]).catch(() => undefined);
  }

  // --- inbox -------------------------------------------------------------------------------------

  async accept(eventId: string, receiver: string, message: unknown, contentKey?: string, scope = ''): Promise<'new' | 'duplicate'> {
    // The script renews the heartbeat with each new event: its events are adopted by another instance
    // if it dies, however soon, even after another instance took it for dead and forgot it once.
    const waits = (this.config.durability ?? 'server') === 'server' ? 0 : 1;
    const flight = `${receiver}\u0000${eventId}`;
    this.accepting.add(flight);
    try {
      const fresh = num(await this.acceptConnection.script('accept', [scope, eventId, receiver, JSON.stringify(message), contentKey ?? '', this.instanceId, waits, this.instanceTimeoutMs])) === 1;
      // A duplicate may be this connection's own write of a moment ago, still waiting for its condition.
      await this.waits.wait();
      return fresh ? 'new' : 'duplicate';
    } catch (err) {
      // The event may be stored all the same (the script ran after the command timed out, or the durability
      // condition did not hold in time). It cannot be taken back (a copy may have been acknowledged as a
      // duplicate by another instance meanwhile), and DingTalk's retry is a duplicate, never emitted live:
      // the next adoption pass lists this instance's pending events of the receiver, so it is emitted then.
      this.unsure.add(receiver);
      throw err;
    } finally {
      // Listed again only once the receiver has emitted it (on 'new', in the turn this resolves in).
      setImmediate(() => this.accepting.delete(flight));
    }
  }

  /**
   * Accepts under way in this process: stored perhaps, but not answered yet. pendingInbox leaves them
   * out, or an adoption pass listing this instance's events while an accept waits for its durability
   * condition would emit the event as lost, and the receiver once more when the accept returns.
   */
  private readonly accepting = new Set<string>();

  /** Receivers with an accept that failed after it may have stored its event (see accept). */
  private readonly unsure = new Set<string>();

  async pendingInbox(receiver: string): Promise<InboxRow[]> {
    const f = (await this.connection.script('pendingInbox', [this.instanceId, receiver])) as unknown[];
    const rows: InboxRow[] = [];
    for (let i = 0; i + 3 < f.length; i += 4) {
      if (this.accepting.has(`${receiver}\u0000${String(f[i + 1])}`)) continue;
      rows.push({ seq: Number(f[i]), eventId: String(f[i + 1]), receiver, receivedAt: Number(f[i + 2]), message: String(f[i + 3]) });
    }
    return rows;
  }

  async pendingMessage(receiver: string, eventId: string): Promise<string | undefined> {
    const reply = await this.connection.script('pendingMessage', [this.instanceId, receiver, eventId]);
    return reply === null || reply === undefined ? undefined : String(reply);
  }

  async markHanded(receiver: string, eventIds: readonly string[], stillDone: (eventId: string) => boolean = () => true): Promise<number> {
    // Asked when the write is sent: after this, the script runs with nothing else in between.
    const ids = eventIds.filter((id) => stillDone(id));
    if (ids.length === 0) return 0;
    return num(await this.connection.script('markHanded', [this.instanceId, receiver, ...ids]));
  }

  async adoptOrphaned(receiver: string): Promise<number> {
    const unsure = this.unsure.has(receiver);
    let count = num(await this.connection.script('adopt', [this.instanceId, receiver]));
    if (unsure) {
      // An accept failed since the last pass: its event, if stored, is this instance's to emit.
      count += num(await this.connection.command(['ZCARD', `${this.connection.prefix}pend:${this.instanceId}:${receiver}`]));
      this.unsure.delete(receiver);
    }
    return count;
  }

  // --- outbox ------------------------------------------------------------------------------------

  async enqueue(subscriber: string, eventId: string, eventType: string, body: string, delayMs = 0): Promise<'new' | 'duplicate'> {
    return num(await this.connection.script('enqueue', [subscriber, eventId, eventType, body, Math.max(0, Math.round(delayMs))])) === 1 ? 'new' : 'duplicate';
  }

  async claim(subscriber: string, options: ClaimOptions): Promise<Claim[]> {
    const limit = options.ordered ? 1 : Math.max(0, Math.floor(options.limit));
    const f = (await this.connection.script('claim', [subscriber, limit, Math.max(1, Math.round(options.leaseMs)), options.ordered ? 1 : 0, this.orderedSettleMs])) as unknown[];
    const leaseUntil = Number(f[1]);
    const claims: Claim[] = [];
    for (let i = 2; i + ROW_FIELDS < f.length + 1; i += ROW_FIELDS + 1) {
      claims.push({ delivery: toDelivery(f, i), token: String(f[i + ROW_FIELDS]), leaseUntil });
    }
    return claims;
  }

  async nextDueIn(subscriber: string, ordered: boolean): Promise<number | undefined> {
    const reply = await this.connection.script('nextDueIn', [subscriber, ordered ? 1 : 0, this.orderedSettleMs]);
    return reply === null || reply === undefined ? undefined : Number(reply);
  }

  async recordDelivered(id: number, token: string, status: number): Promise<boolean> {
    const reply = num(await this.connection.script('complete', [id, token, 'delivered', status, '', 0, '']));
    if (reply === 2) {
      // This success closed the shared breaker: everything held back is due now, for every instance.
      const subscriber = String(await this.connection.command(['HGET', `${this.connection.prefix}d:${id}`, 's']));
      await this.wakeAll(subscriber);
    }
    return reply >= 1;
  }

  async recordFailed(id: number, token: string, outcome: FailedOutcome): Promise<boolean> {
    const retry = outcome.retryInMs !== undefined;
    const retryIn = retry ? Math.max(0, Math.round(outcome.retryInMs as number)) : 0;
    const args = [id, token, retry ? 'retry' : 'dead', outcome.status ?? '', outcome.error ?? '', retryIn, outcome.breakerThreshold ?? ''];
    return num(await this.connection.script('complete', args)) === 1;
  }

  async release(id: number, token: string): Promise<boolean> {
    return num(await this.connection.script('release', [id, token])) === 1;
  }

  async wakeAll(subscriber: string): Promise<void> {
    const batch = 1000;
    // A batch per script: a large backlog never holds the server for long.
    while (num(await this.connection.script('wakeSome', [subscriber, batch])) === batch);
  }

  async counts(subscriber: string): Promise<Record<DeliveryState, number>> {
    const [queued, delivered, dead] = ((await this.connection.script('counts', [subscriber])) as unknown[]).map(Number);
    return { queued, delivered, dead };
  }

  async list(subscriber: string, state: DeliveryState, limit = 100, offset = 0): Promise<Delivery[]> {
    const f = (await this.connection.script('list', [subscriber, SETS[state], limit, offset])) as unknown[];
    const rows: Delivery[] = [];
    for (let i = 0; i + ROW_FIELDS <= f.length; i += ROW_FIELDS) rows.push(toDelivery(f, i));
    return rows;
  }

  async replay(subscriber: string, id?: number): Promise<number> {
    return num(await this.connection.script('replay', [subscriber, id === undefined ? '' : id]));
  }

  // --- event center ------------------------------------------------------------------------------

  async searchEvents(query: EventQuery): Promise<EventSearchResult> {
    const q = normaliseQuery(query);
    if (q.eventId !== undefined) {
      const rows = toStoredEvents((await this.connection.script('inboxById', [q.eventId])) as unknown[], 0);
      rows.sort((a, b) => b.receivedAt - a.receivedAt);
      return { events: rows.filter((e) => matches(e, q)).slice(0, q.limit), scanned: rows.length, complete: true };
    }
    const from = Math.floor(q.from ?? 0);
    const to = q.to === undefined ? '+inf' : Math.floor(q.to);
    // Twice the limit: the texts are only a filter, matches() decides.
    const f = (await this.connection.script('searchInbox', [from, to, q.scanLimit, q.limit * 2, ...needles(q)])) as unknown[];
    const inWindow = Number(f[0]);
    return { events: toStoredEvents(f, 1).filter((e) => matches(e, q)).slice(0, q.limit), scanned: Math.min(inWindow, q.scanLimit), complete: inWindow <= q.scanLimit };
  }

  async deliveriesOf(eventId: string): Promise<Delivery[]> {
    const f = (await this.connection.script('deliveriesOf', [eventId])) as unknown[];
    const rows: Delivery[] = [];
    for (let i = 0; i + ROW_FIELDS <= f.length; i += ROW_FIELDS) rows.push(toDelivery(f, i));
    return rows;
  }

  async eventsPerMinute(from: number, minutes: number): Promise<number[]> {
    return ((await this.connection.script('perMinute', [Math.floor(from), Math.max(0, Math.floor(minutes))])) as unknown[]).map(Number);
  }

  // --- housekeeping ------------------------------------------------------------------------------

  async pruneInbox(before: number, limit: number): Promise<number> {
    return num(await this.connection.script('pruneInbox', [Math.floor(before), limit]));
  }

  async pruneAllDelivered(before: number, limit: number): Promise<number> {
    return num(await this.connection.script('pruneDelivered', [Math.floor(before), limit]));
  }

  async subscribers(): Promise<string[]> {
    return ((await this.connection.script('subscribers', [])) as unknown[]).map(String);
  }

  async receivers(): Promise<string[]> {
    return ((await this.connection.command(['HKEYS', `${this.connection.prefix}recv`])) as unknown[]).map(String);
  }

  async queueSize(subscriber: string): Promise<number> {
    return num(await this.connection.script('queueSize', [subscriber]));
  }

  async pendingCount(receiver: string): Promise<number> {
    return num(await this.connection.script('pendingCount', [receiver]));
  }

  async dropQueue(subscriber: string, limit: number): Promise<number> {
    return num(await this.connection.script('dropQueue', [subscriber, limit]));
  }

  async giveUpPending(receiver: string, limit: number): Promise<number> {
    return num(await this.connection.script('giveUpPending', [receiver, limit]));
  }

  async orphanMarks(): Promise<OrphanMark[]> {
    const entries = hashEntries(await this.connection.command(['HGETALL', `${this.connection.prefix}orphans`]));
    return entries.map(([field, since]) => {
      const cut = field.indexOf('\u0000');
      return { kind: field.slice(0, cut) as OrphanKind, id: field.slice(cut + 1), since: Number(since) };
    });
  }

  async markOrphan(kind: OrphanKind, id: string, since: number): Promise<void> {
    await this.connection.command(['HSETNX', `${this.connection.prefix}orphans`, `${kind}\u0000${id}`, String(since)]);
  }

  async clearOrphan(kind: OrphanKind, id: string): Promise<void> {
    await this.connection.command(['HDEL', `${this.connection.prefix}orphans`, `${kind}\u0000${id}`]);
  }

  // --- counters ----------------------------------------------------------------------------------

  /** Counter writes under way: close() lets them finish (a closing runtime's last flush). */
  private readonly countWrites = new Set<Promise<unknown>>();

  async addCounts(batch: CounterBatch): Promise<void> {
    const rows = batchRows(batch);
    if (rows.length === 0) return;
    const args: (string | number)[] = [MINUTE_RETENTION_MS];
    for (const row of rows) args.push(row.kind, row.name, row.minute, row.amount);
    const write = this.connection.script('addCounts', args);
    this.countWrites.add(write);
    const done = () => this.countWrites.delete(write);
    write.then(done, done);
    await write;
  }

  async readCounts(): Promise<CounterSnapshot> {
    const [totals, latest] = await Promise.all([
      this.connection.command(['HGETALL', `${this.connection.prefix}cnt`]),
      this.connection.command(['HGETALL', `${this.connection.prefix}cntat`]),
    ]);
    const numbers = (reply: unknown) => Object.fromEntries(hashEntries(reply).map(([k, v]) => [k, Number(v)]));
    return { totals: numbers(totals), latest: numbers(latest) };
  }

  async minuteSeries(name: string, sinceMs: number, untilMs?: number): Promise<MinutePoint[]> {
    const most = Math.min(MAX_SERIES_MINUTES, MINUTE_RETENTION_MS / 60_000);
    const f = (await this.connection.script('minuteSeries', [name, Math.floor(sinceMs), untilMs === undefined ? '' : Math.floor(untilMs), most])) as unknown[];
    const points: MinutePoint[] = [];
    for (let i = 0; i + 1 < f.length; i += 2) points.push({ minute: Number(f[i]), count: Number(f[i + 1]) });
    return points;
  }

  async oldestQueuedAge(subscriber: string): Promise<number | undefined> {
    const reply = await this.connection.script('oldestQueuedAge', [subscriber]);
    return reply === null || reply === undefined ? undefined : Number(reply);
  }

  /**
   * Lets go of the server. The instance's heartbeat stops but its entry stays: reopened soon (a deploy),
   * it goes on with its own pending events; if the process is gone, another instance adopts them.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await Promise.allSettled([...this.countWrites]);
    await this.connection.close();
    if (this.acceptConnection !== this.connection) await this.acceptConnection.close();
  }
}

export function openRedisHubStore(config: RedisStoreConfig, options: RedisHubStoreOptions = {}): RedisHubStore {
  return new RedisHubStore(config, options);
}
