/**
 * What the store reports, in the log of the node that hears it (shared-store tells only its
 * longest-standing user), in the runtime's language:
 *   - SQLite: its file deleted, replaced, restored (file-recovery.ts);
 *   - Redis: the server reached (what it runs with, and what that means for acknowledged events), lost,
 *     or refusing (what to change). Each is told once per runtime and change of state, not once per node
 *     nor again when a deploy reopens the store: the runtime remembers, per server, what it last said.
 */
import type { Node, NodeAPI } from 'node-red';
import type { HubStoreEvent, HubStoreEventListener } from '../core/store/shared-store';
import type { RedisServerInfo, RedisStoreEvent } from '../core/store/redis/redis-config';
import { DEFAULT_DURABILITY, type StoreSetting } from '../core/store/store-settings';
import { appText } from './app-texts';

const FILE_EVENTS = appText('store-file');
const REDIS_EVENTS = appText('store-redis');

/** What the runtime last said about one server (by its target). */
interface Told {
  state: string;
  /** appendonly / appendfsync when it was last warned about (or found fine). */
  persistence?: string;
}

/** Keyed by RED.events: one memory per runtime, whichever node module's RED asks. */
const runtimes = new WeakMap<object, Map<string, Told>>();

function toldIn(RED: NodeAPI): Map<string, Told> {
  const key = RED.events as unknown as object;
  let told = runtimes.get(key);
  if (!told) runtimes.set(key, (told = new Map()));
  return told;
}

function fileEvent(RED: NodeAPI, node: Node, event: Exclude<HubStoreEvent, RedisStoreEvent>): void {
  if (event.kind === 'file-lost') node.warn(RED._(`${FILE_EVENTS}.${event.state}`, { file: event.file, path: event.path }));
  else if (event.kind === 'restore-failed') node.warn(RED._(`${FILE_EVENTS}.restore-failed`, { path: event.path, error: event.error }));
  else if (event.movedAside.length > 0) node.log(RED._(`${FILE_EVENTS}.restored-aside`, { path: event.path, aside: event.movedAside.join(', ') }));
  else node.log(RED._(`${FILE_EVENTS}.restored`, { path: event.path }));
}

/** With durability 'server', the server's own persistence is the promise: say what it is worth. */
function persistenceWarning(info: RedisServerInfo): string | undefined {
  if (info.appendonly === 'no') return 'no-aof';
  if (info.appendfsync === undefined) return 'fsync-unknown'; // CONFIG disabled, as on managed Redis
  if (info.appendfsync !== 'always') return 'fsync';
  return undefined;
}

function redisEvent(RED: NodeAPI, node: Node, event: RedisStoreEvent, durability: string): void {
  const told = toldIn(RED);
  const last = told.get(event.target);
  const params = { target: event.target };
  if (event.kind === 'redis-down') {
    if (last?.state === 'down') return; // one warning per spell, whatever reopened the store meanwhile
    told.set(event.target, { ...last, state: 'down' });
    node.warn(RED._(`${REDIS_EVENTS}.down`, { ...params, error: event.error }));
    return;
  }
  if (event.kind === 'redis-refused') {
    const state = `refused ${event.reason} ${event.detail}`;
    if (last?.state === state) return;
    told.set(event.target, { ...last, state });
    node.error(RED._(`${REDIS_EVENTS}.refused-${event.reason}`, { ...params, detail: event.detail, durability }));
    return;
  }
  if (last?.state === 'up') return; // a deploy reopened the store: nothing new
  const { info } = event;
  const unknown = RED._(`${REDIS_EVENTS}.unknown`);
  const persistence = `${info.appendonly}/${info.appendfsync}`;
  told.set(event.target, { state: 'up', persistence });
  node.log(
    RED._(`${REDIS_EVENTS}.${last ? 'back' : 'up'}`, {
      ...params,
      version: info.version ?? unknown,
      appendonly: info.appendonly ?? unknown,
      appendfsync: info.appendfsync ?? unknown,
      policy: info.maxmemoryPolicy ?? unknown,
      durability,
    }),
  );
  // Said once per runtime, and again only if a failover brought a server that persists differently.
  const warning = durability === 'server' ? persistenceWarning(info) : undefined;
  if (warning && last?.persistence !== persistence) node.warn(RED._(`${REDIS_EVENTS}.warn-${warning}`, { ...params, appendfsync: info.appendfsync ?? unknown }));
}

/** The listener to open the store with, for `node`'s log. */
export function storeEventLog(RED: NodeAPI, node: Node, setting: StoreSetting): { onEvent: HubStoreEventListener } {
  const durability = setting.module === 'redis' ? (setting.config.durability ?? DEFAULT_DURABILITY) : '';
  return {
    onEvent(event) {
      if (event.kind === 'redis-up' || event.kind === 'redis-down' || event.kind === 'redis-refused') redisEvent(RED, node, event, durability);
      else fileEvent(RED, node, event);
    },
  };
}
