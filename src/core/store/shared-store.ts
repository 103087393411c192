/**
 * One store (the SQLite back end of the store contract) per database file for the whole runtime, shared by every node that uses it and
 * closed when the last of them lets go (a full redeploy closes and reopens it, which is cheap). While it
 * is open, one housekeeper (housekeeper.ts) keeps it from growing, whatever nodes use it.
 * What the store reports about its file (file-recovery.ts) is told once, to the longest-standing
 * user that gave a listener: not once per node, and never to a node that has let go.
 */
import { EventStore, type StoreOptions } from './event-store';
import { SqliteHubStore } from './sqlite-hub-store';
import type { HubStore } from './store-contract';
import type { StoreEventListener } from './file-recovery';
import { Housekeeper, type HousekeeperConfig } from './housekeeper';

interface OpenStore {
  store: SqliteHubStore;
  users: number;
  listeners: Set<StoreEventListener>;
  /** The store's one housekeeper, started by the first user that brings its configuration. */
  housekeeper?: Housekeeper;
}

const open = new Map<string, OpenStore>();

export interface LeaseOptions extends StoreOptions {
  /** Housekeeping for the store while it is open (housekeeper.ts); the first user to give it decides. */
  housekeeping?: HousekeeperConfig;
}

export interface StoreLease {
  /** Users see the contract only: every call is asynchronous, whatever the back end. */
  store: HubStore;
  release(): void;
}

/**
 * `options` other than onEvent and housekeeping apply when this call opens the store; onEvent is this
 * user's listener; housekeeping starts the store's housekeeper unless an earlier user did.
 */
export function acquireStore(path: string, options: LeaseOptions = {}): StoreLease {
  let entry = open.get(path);
  if (!entry) {
    const listeners = new Set<StoreEventListener>();
    const onEvent: StoreEventListener = (event) => listeners.values().next().value?.(event);
    const { housekeeping: _housekeeping, ...storeOptions } = options;
    entry = { store: new SqliteHubStore(new EventStore(path, { ...storeOptions, onEvent })), users: 0, listeners };
    open.set(path, entry);
  }
  if (options.housekeeping && !entry.housekeeper) {
    entry.housekeeper = new Housekeeper(entry.store, options.housekeeping);
    entry.housekeeper.start();
  }
  entry.users += 1;
  // A function object of its own, so that two users passing the same function are both counted.
  const listener: StoreEventListener | undefined = options.onEvent && ((event) => options.onEvent?.(event));
  if (listener) entry.listeners.add(listener);
  const held = entry;
  let released = false;
  return {
    store: held.store,
    release() {
      if (released) return;
      released = true;
      held.users -= 1;
      if (held.users === 0 && open.get(path) === held) {
        open.delete(path);
        held.housekeeper?.stop(); // before the store closes: a spell under way makes no further call
        // Closes at once, synchronously inside: it may still report (a lost file restored on close) to this
        // last user; a failure to close is the file's last word, not a reason to throw at a node closing.
        held.store.close().catch(() => undefined);
      }
      if (listener) held.listeners.delete(listener);
    },
  };
}
