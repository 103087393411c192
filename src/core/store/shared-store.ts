/**
 * One store per back end for the whole runtime (per SQLite file; per Redis configuration), shared by every
 * node that uses it and closed when the last of them lets go (a full redeploy closes and reopens it, which
 * is cheap). While it is open, one housekeeper (housekeeper.ts) keeps it from growing, whatever nodes use
 * it and whichever back end it is.
 * What the store reports (about its file: file-recovery.ts; about its server: 'redis-up' / 'redis-down' /
 * 'redis-refused') is told once, to the longest-standing user that gave a listener: not once per node,
 * and never to a node that has let go. Whether the server is usable is also kept as the store's health,
 * which every user may read and be told of, for its status.
 */
import { EventStore, type StoreOptions } from './event-store';
import { SqliteHubStore } from './sqlite-hub-store';
import type { HubStore } from './store-contract';
import type { StoreEvent } from './file-recovery';
import type { RedisStoreConfig, RedisStoreEvent } from './redis/redis-config';
import type * as RedisBackEnd from './redis/redis-hub-store';
import { Housekeeper, type HousekeeperConfig } from './housekeeper';
import { CountBatcher } from '../counters/count-batcher';
import { type StoreSetting, storeKey } from './store-settings';

/** Anything a back end reports. */
export type HubStoreEvent = StoreEvent | RedisStoreEvent;
export type HubStoreEventListener = (event: HubStoreEvent) => void;

/** Whether the back end can take calls: a Redis server may be down, or refuse (its settings). */
export type StoreHealth =
  | { state: 'up' }
  | { state: 'down'; error: string }
  | { state: 'refused'; reason: 'eviction' | 'durability'; detail: string };

const UP: StoreHealth = { state: 'up' };

interface OpenStore {
  store: HubStore;
  users: number;
  listeners: Set<HubStoreEventListener>;
  /** Every user that asked to hear of a change of health. */
  watchers: Set<() => void>;
  health: StoreHealth;
  /** The store's one housekeeper, started by the first user that brings its configuration. */
  housekeeper?: Housekeeper;
  /** The store's counters, batched in memory and added to the store about once a second. */
  counters: CountBatcher;
}

const open = new Map<string, OpenStore>();

export interface LeaseOptions extends Omit<StoreOptions, 'onEvent'> {
  /** This user's listener; only the longest-standing user with one hears an event. */
  onEvent?: HubStoreEventListener;
  /** Called (never during acquireStore) whenever the store's health changes; read it with lease.health(). */
  onHealth?: () => void;
  /** Housekeeping for the store while it is open (housekeeper.ts); the first user to give it decides. */
  housekeeping?: HousekeeperConfig;
}

export interface StoreLease {
  /** Users see the contract only: every call is asynchronous, whatever the back end. */
  store: HubStore;
  /** Up unless the back end said otherwise (SQLite: always up; its failures show in the calls). */
  health(): StoreHealth;
  /** The store's counters (count-batcher.ts), one batcher for every user of the store. */
  counters: CountBatcher;
  release(): void;
}

function healthAfter(event: HubStoreEvent, before: StoreHealth): StoreHealth {
  switch (event.kind) {
    case 'redis-up':
      return UP;
    case 'redis-down':
      return { state: 'down', error: event.error };
    case 'redis-refused':
      return { state: 'refused', reason: event.reason, detail: event.detail };
    default:
      return before;
  }
}

/** node-redis is loaded only by a runtime configured for Redis. */
function openRedis(config: RedisStoreConfig, onEvent: (event: RedisStoreEvent) => void): HubStore {
  const backEnd = require('./redis/redis-hub-store') as typeof RedisBackEnd;
  return backEnd.openRedisHubStore(config, { onEvent });
}

function openBackEnd(setting: StoreSetting, options: Omit<LeaseOptions, 'onEvent' | 'onHealth' | 'housekeeping'>, onEvent: HubStoreEventListener): HubStore {
  if (setting.module === 'redis') return openRedis(setting.config, onEvent);
  return new SqliteHubStore(new EventStore(setting.config.path, { ...options, onEvent }));
}

/**
 * `setting` is what `dingtalkStore` asks for (store-settings.ts), or the path of an SQLite file. `options`
 * other than onEvent, onHealth and housekeeping apply when this call opens the store; onEvent and onHealth
 * are this user's; housekeeping starts the store's housekeeper unless an earlier user did.
 */
export function acquireStore(setting: StoreSetting | string, options: LeaseOptions = {}): StoreLease {
  const chosen: StoreSetting = typeof setting === 'string' ? { module: 'sqlite', config: { path: setting } } : setting;
  const key = storeKey(chosen);
  let entry = open.get(key);
  if (!entry) {
    const listeners = new Set<HubStoreEventListener>();
    const watchers = new Set<() => void>();
    const { housekeeping: _housekeeping, onEvent: _onEvent, onHealth: _onHealth, ...storeOptions } = options;
    // `store` is set once the back end is open; a back end that fails to open leaves nothing behind.
    const record = { users: 0, listeners, watchers, health: UP } as Omit<OpenStore, 'store'> as OpenStore;
    const onEvent: HubStoreEventListener = (event) => {
      const before = record.health;
      record.health = healthAfter(event, before);
      listeners.values().next().value?.(event);
      if (record.health !== before) for (const watcher of [...watchers]) watcher();
    };
    record.store = openBackEnd(chosen, storeOptions, onEvent);
    record.counters = new CountBatcher(record.store);
    entry = record;
    open.set(key, entry);
  }
  if (options.housekeeping && !entry.housekeeper) {
    entry.housekeeper = new Housekeeper(entry.store, options.housekeeping);
    entry.housekeeper.start();
  }
  entry.users += 1;
  // Function objects of their own, so that two users passing the same function are both counted.
  const listener: HubStoreEventListener | undefined = options.onEvent && ((event) => options.onEvent?.(event));
  if (listener) entry.listeners.add(listener);
  const watcher = options.onHealth && (() => options.onHealth?.());
  if (watcher) entry.watchers.add(watcher);
  const held = entry;
  let released = false;
  return {
    store: held.store,
    health: () => held.health,
    counters: held.counters,
    release() {
      if (released) return;
      released = true;
      held.users -= 1;
      if (watcher) held.watchers.delete(watcher);
      if (held.users === 0 && open.get(key) === held) {
        open.delete(key);
        held.housekeeper?.stop(); // before the store closes: a spell under way makes no further call
        held.counters.close(); // its last batch is handed to the store now, and written by close()
        // Closes at once (SQLite: synchronously inside): it may still report (a lost file restored on
        // close) to this last user; a failure to close is the store's last word, not a reason to throw
        // at a node closing.
        held.store.close().catch(() => undefined);
      }
      if (listener) held.listeners.delete(listener);
    },
  };
}

/**
 * A lease on the store `setting` names only if some user holds it open already (the event center reads
 * what the deployed nodes use; it never creates a file or opens a connection of its own).
 */
export function leaseIfOpen(setting: StoreSetting | string): StoreLease | undefined {
  const chosen: StoreSetting = typeof setting === 'string' ? { module: 'sqlite', config: { path: setting } } : setting;
  return open.has(storeKey(chosen)) ? acquireStore(chosen) : undefined;
}
