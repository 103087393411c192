/**
 * PLACEHOLDER until the Redis back end is merged (the lead's file replaces this one): the export the
 * node glue compiles against. Opening throws, so a `dingtalkStore` naming Redis fails like a store that
 * cannot be opened.
 */
import type { RedisStoreConfig, RedisStoreEvent } from './redis-config';
import type { HubStore } from '../store-contract';

export interface RedisHubStore extends HubStore {
  /** `redis://host:port prefix …`, without password. */
  readonly target: string;
}

export function openRedisHubStore(_config: RedisStoreConfig, _options: { onEvent?: (e: RedisStoreEvent) => void } = {}): RedisHubStore {
  throw new Error('the Redis back end is not built in yet');
}
