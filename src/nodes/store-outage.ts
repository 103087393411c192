/**
 * The red status a node shows while its store's server cannot be used (Redis down, or refusing because of
 * its settings): the key's last part, `store-down` or `store-refused`, under the node's own `status`.
 * Told by the store itself (shared-store's health), so the status turns red without waiting for a push or
 * a delivery to fail, and clears when the server is usable again. SQLite is always "up": its failures
 * show through the calls that fail (store-spell.ts).
 */
import type { StoreLease } from '../core/store/shared-store';

export type StoreOutage = 'store-down' | 'store-refused';

export function storeOutage(lease: StoreLease | undefined): StoreOutage | undefined {
  const state = lease?.health().state;
  return state === 'down' ? 'store-down' : state === 'refused' ? 'store-refused' : undefined;
}
