/**
 * `dingtalkStore` in settings.js, shaped like Node-RED's own `contextStorage` entries:
 *   { module: 'sqlite', config: { path } }   the embedded file (the default; `path` defaults to
 *                                            `dingtalkStorePath`, else the file in the user directory)
 *   { module: 'redis',  config: { url, prefix, tls, durability, … } }   a shared Redis / Valkey server
 * Checked before anything is opened: a typo must not quietly fall back to a weaker promise (a misspelt
 * `durability` read as the default). A problem is a catalogue key and its parameters, so the node glue
 * can say in the runtime's language what to write instead. Nothing echoed from the setting carries a
 * secret: passwords in URLs are masked, TLS options and unknown keys' values are never repeated.
 */
import path from 'node:path';
import { canonicalJson } from '../events';
import type { Durability, RedisStoreConfig } from './redis/redis-config';

export type StoreSetting = { module: 'sqlite'; config: { path: string } } | { module: 'redis'; config: RedisStoreConfig };

export type StoreSettingProblemKey =
  | 'not-object'
  | 'module'
  | 'unknown-key'
  | 'string'
  | 'number'
  | 'tls'
  | 'url'
  | 'prefix'
  | 'instance-id'
  | 'durability'
  | 'sentinels'
  | 'nodes'
  | 'sentinel-and-cluster';

export interface StoreSettingProblem {
  key: StoreSettingProblemKey;
  /** `field` names the offending part (e.g. `config.durability`); `found` is what was written, masked. */
  params: Record<string, string>;
}

/** A `dingtalkStore` the hub will not open: nothing is opened until settings.js is fixed. */
export class StoreSettingError extends Error {
  readonly code = 'STORE_SETTING';
  constructor(readonly problem: StoreSettingProblem) {
    // Plain loggers get the key and parameters; the nodes word it from the catalogue.
    super(`dingtalkStore in settings.js: ${problem.key} ${JSON.stringify(problem.params)}`);
    this.name = 'StoreSettingError';
  }
}

export const DEFAULT_DURABILITY: Durability = 'server';

const MODULES = ['sqlite', 'redis'];
const TOP_KEYS = ['module', 'config'];
const SQLITE_KEYS = ['path'];
const REDIS_KEYS = ['url', 'username', 'password', 'prefix', 'tls', 'durability', 'durabilityTimeoutMs', 'commandTimeoutMs', 'instanceId', 'sentinel', 'cluster'];
const SENTINEL_KEYS = ['name', 'sentinels'];
const CLUSTER_KEYS = ['nodes'];
const DURABILITY = /^(server|wait-aof|replicas:[1-9]\d{0,5})$/;
/** A prefix becomes the hash tag `{prefix}`: braces would end it early, spaces make keys awkward to type. */
const PREFIX = /^[^\s{}]{1,64}$/;
const INSTANCE_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** `scheme://user:password@…` → `scheme://user:***@…`, anywhere in `text`. */
export function maskSecrets(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*:)\S*@/gi, '$1***@');
}

/** What was written, short and without secrets, for a message. */
function found(value: unknown): string {
  if (typeof value === 'string') return maskSecrets(value.length > 200 ? `${value.slice(0, 200)}…` : value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'a list' : 'an object';
}

function fail(key: StoreSettingProblemKey, params: Record<string, string> = {}): never {
  throw new StoreSettingError({ key, params });
}

const isObject = (value: unknown): value is Record<string, unknown> => value !== null && typeof value === 'object' && !Array.isArray(value);

function objectAt(value: unknown, field: string, known: string[]): Record<string, unknown> {
  if (!isObject(value)) fail('not-object', { field, found: found(value), known: known.join(', ') });
  // The key's name only: a misplaced `password: '…'` must not end up in the log.
  const unknown = Object.keys(value).find((k) => !known.includes(k));
  if (unknown !== undefined) fail('unknown-key', { field, key: found(unknown), known: known.join(', ') });
  return value;
}

function stringAt(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') fail('string', { field, found: found(value) });
  return value;
}

/** A password: checked like any text, never repeated. */
function secretAt(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') fail('string', { field, found: '***' });
  return value;
}

function redisUrl(value: unknown, field: string): string {
  const text = stringAt(value, field);
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  const db = url?.pathname.replace(/^\//, '') ?? '';
  if (!url || (url.protocol !== 'redis:' && url.protocol !== 'rediss:') || !url.hostname || !/^\d*$/.test(db)) fail('url', { field, found: found(text) });
  return text;
}

function positiveMs(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail('number', { field, found: found(value) });
  return value;
}

function port(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value < 65536;
}

function redisConfig(value: unknown): RedisStoreConfig {
  const raw = objectAt(value ?? {}, 'dingtalkStore.config', REDIS_KEYS);
  const config: RedisStoreConfig = { durability: DEFAULT_DURABILITY };
  if (raw.url !== undefined) config.url = redisUrl(raw.url, 'dingtalkStore.config.url');
  if (raw.username !== undefined) config.username = stringAt(raw.username, 'dingtalkStore.config.username');
  if (raw.password !== undefined) config.password = secretAt(raw.password, 'dingtalkStore.config.password');
  if (raw.prefix !== undefined) {
    if (typeof raw.prefix !== 'string' || !PREFIX.test(raw.prefix)) fail('prefix', { field: 'dingtalkStore.config.prefix', found: found(raw.prefix) });
    config.prefix = raw.prefix;
  }
  if (raw.tls !== undefined) {
    // Never echoed: TLS options hold keys and passphrases.
    if (typeof raw.tls !== 'boolean' && !isObject(raw.tls)) fail('tls', { field: 'dingtalkStore.config.tls' });
    config.tls = raw.tls as RedisStoreConfig['tls'];
  }
  if (raw.durability !== undefined) {
    if (typeof raw.durability !== 'string' || !DURABILITY.test(raw.durability)) fail('durability', { field: 'dingtalkStore.config.durability', found: found(raw.durability) });
    config.durability = raw.durability as Durability;
  }
  if (raw.durabilityTimeoutMs !== undefined) config.durabilityTimeoutMs = positiveMs(raw.durabilityTimeoutMs, 'dingtalkStore.config.durabilityTimeoutMs');
  if (raw.commandTimeoutMs !== undefined) config.commandTimeoutMs = positiveMs(raw.commandTimeoutMs, 'dingtalkStore.config.commandTimeoutMs');
  if (raw.instanceId !== undefined) {
    // Part of key names (pend:<instance>:<receiver>): letters, digits, '.', '_' and '-' only.
    if (typeof raw.instanceId !== 'string' || !INSTANCE_ID.test(raw.instanceId)) fail('instance-id', { field: 'dingtalkStore.config.instanceId', found: found(raw.instanceId) });
    config.instanceId = raw.instanceId;
  }
  if (raw.sentinel !== undefined && raw.cluster !== undefined) fail('sentinel-and-cluster', { field: 'dingtalkStore.config' });
  if (raw.sentinel !== undefined) {
    const sentinel = objectAt(raw.sentinel, 'dingtalkStore.config.sentinel', SENTINEL_KEYS);
    const name = stringAt(sentinel.name, 'dingtalkStore.config.sentinel.name');
    const list = sentinel.sentinels;
    const ok = Array.isArray(list) && list.length > 0 && list.every((s) => isObject(s) && typeof s.host === 'string' && s.host.trim() !== '' && port(s.port));
    if (!ok) fail('sentinels', { field: 'dingtalkStore.config.sentinel.sentinels' });
    config.sentinel = { name, sentinels: (list as { host: string; port: number }[]).map(({ host, port: p }) => ({ host, port: p })) };
  }
  if (raw.cluster !== undefined) {
    const cluster = objectAt(raw.cluster, 'dingtalkStore.config.cluster', CLUSTER_KEYS);
    const nodes = cluster.nodes;
    if (!Array.isArray(nodes) || nodes.length === 0) fail('nodes', { field: 'dingtalkStore.config.cluster.nodes' });
    config.cluster = { nodes: (nodes as unknown[]).map((n, i) => redisUrl(n, `dingtalkStore.config.cluster.nodes[${i}]`)) };
  }
  return config;
}

/**
 * The store `dingtalkStore` asks for; `defaultPath` is the SQLite file when it names none (from
 * `dingtalkStorePath` or the user directory). Throws StoreSettingError.
 */
export function parseStoreSetting(value: unknown, defaultPath: string): StoreSetting {
  if (value === undefined || value === null) return { module: 'sqlite', config: { path: defaultPath } };
  const setting = objectAt(value, 'dingtalkStore', TOP_KEYS);
  if (typeof setting.module !== 'string' || !MODULES.includes(setting.module)) {
    fail('module', { field: 'dingtalkStore.module', found: found(setting.module), known: MODULES.join(', ') });
  }
  if (setting.module === 'redis') return { module: 'redis', config: redisConfig(setting.config) };
  const config = objectAt(setting.config ?? {}, 'dingtalkStore.config', SQLITE_KEYS);
  const file = config.path === undefined ? defaultPath : path.resolve(stringAt(config.path, 'dingtalkStore.config.path'));
  return { module: 'sqlite', config: { path: file } };
}

/** What a setting is known by: one open store per key for the whole runtime. */
export function storeKey(setting: StoreSetting): string {
  if (setting.module === 'sqlite') return `sqlite:${setting.config.path}`;
  // Everything in the configuration may change which server, which keys or which promise: all of it.
  return `redis:${canonicalJson(setting.config)}`;
}
