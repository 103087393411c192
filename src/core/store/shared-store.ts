/**
 * One EventStore per database file for the whole runtime, shared by every node that uses it and
 * closed when the last of them lets go (a full redeploy closes and reopens it, which is cheap).
 */
import { EventStore, type StoreOptions } from './event-store';

const open = new Map<string, { store: EventStore; users: number }>();

export interface StoreLease {
  store: EventStore;
  release(): void;
}

export function acquireStore(path: string, options?: StoreOptions): StoreLease {
  let entry = open.get(path);
  if (!entry) {
    entry = { store: new EventStore(path, options), users: 0 };
    open.set(path, entry);
  }
  entry.users += 1;
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
        held.store.close();
      }
    },
  };
}
