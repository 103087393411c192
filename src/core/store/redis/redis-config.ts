/**
 * What `dingtalkStore: { module: 'redis', config }` in settings.js may say, and what the Redis back end
 * reports about its server. Kept apart from the back end itself so that the nodes' glue and the settings
 * check depend on these types only.
 */
import type { ConnectionOptions } from 'node:tls';

/**
 * When an accepted event counts as durable, i.e. when a receiver may answer `success` / `SUCCESS`:
 *   - 'server'     the write was executed by the server; its own `appendfsync` decides what a crash loses
 *                  (`always`: nothing; `everysec`: up to about a second);
 *   - 'wait-aof'   WAITAOF: the server has fsynced its append-only file (Redis / Valkey 7.2 and later);
 *   - 'replicas:N' WAIT: N replicas have the write (survives the loss of the primary's machine, not a
 *                  failover that promotes a replica which missed it).
 */
export type Durability = 'server' | 'wait-aof' | `replicas:${number}`;

export interface RedisSentinelConfig {
  /** The name of the primary the sentinels watch (`sentinel monitor <name> …`). */
  name: string;
  /** Sentinels to ask first: `{ host, port }`. */
  sentinels: { host: string; port: number }[];
}

export interface RedisClusterConfig {
  /** Some nodes of the cluster, as URLs (`redis://host:port`); the rest are discovered. */
  nodes: string[];
}

export interface RedisStoreConfig {
  /** `redis://[[user]:password@]host:port[/db]`, `rediss://` for TLS. Default `redis://127.0.0.1:6379`. */
  url?: string;
  /** Credentials when they are not in `url` (and for Sentinel and Cluster nodes). */
  username?: string;
  password?: string;
  /** Every key of the hub starts with `{prefix}:` (one hash tag: one Cluster slot). Default `dthub`. */
  prefix?: string;
  /** TLS: true, or Node's `tls.connect` options (CA, client certificate…). */
  tls?: boolean | ConnectionOptions;
  /** Default 'server'. */
  durability?: Durability;
  /** How long a receiver waits for the durability condition before answering 503 / LATER. Default 1000 ms. */
  durabilityTimeoutMs?: number;
  /** How long any call waits for the server before it fails (the server is unreachable). Default 5000 ms. */
  commandTimeoutMs?: number;
  /** This process's instance id (hand-off state); default: a random id per start. */
  instanceId?: string;
  /** Connect through Redis Sentinel instead of `url`. */
  sentinel?: RedisSentinelConfig;
  /** Connect to a Redis Cluster instead of `url`. */
  cluster?: RedisClusterConfig;
}

/** What the server says about itself on each connect (undefined: it would not say, e.g. CONFIG disabled). */
export interface RedisServerInfo {
  version?: string;
  maxmemoryPolicy?: string;
  appendonly?: string;
  appendfsync?: string;
}

/** What the Redis back end reports (at most once per change of state), for the nodes' log and status. */
export type RedisStoreEvent =
  /** Connected (again) and usable: what the server runs with. */
  | { kind: 'redis-up'; target: string; info: RedisServerInfo; message: string }
  /** Lost or could not reach the server: receivers answer 503 / LATER, delivery pauses. */
  | { kind: 'redis-down'; target: string; error: string; message: string }
  /**
   * Connected, but the server may evict keys (`maxmemory-policy` is not `noeviction`), or lacks what the
   * configured durability needs (WAITAOF before 7.2): nothing is acknowledged until that is fixed.
   */
  | { kind: 'redis-refused'; target: string; reason: 'eviction' | 'durability'; detail: string; message: string };

/** A call made while the server cannot be reached (or did not answer in time): nothing was stored. */
export class StoreUnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE';
}

/** A call refused because the server's settings cannot keep the promise (see 'redis-refused'). */
export class StoreRefusedError extends Error {
  readonly code = 'STORE_REFUSED';
}
