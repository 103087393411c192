/**
 * What the Redis server runs with, and whether the hub may acknowledge events on it:
 *   - `maxmemory-policy` must be `noeviction`: any other policy lets the server drop an acknowledged
 *     event (or a de-duplication key) to make room, silently;
 *   - durability 'wait-aof' needs WAITAOF (Redis / Valkey 7.2 and later).
 * `appendonly` / `appendfsync` are reported, not enforced: whether `everysec` is good enough is the
 * user's call (README), but the log says what it means.
 * Managed servers may refuse CONFIG: INFO (which has maxmemory_policy and aof_enabled) is asked first.
 */
import type { Durability, RedisServerInfo } from './redis-config';

export interface ServerVerdict {
  info: RedisServerInfo;
  /** Why nothing may be acknowledged; undefined when everything is fine. */
  problem?: string;
  reason?: 'eviction' | 'durability';
}

type Send = (args: string[]) => Promise<unknown>;

function infoField(text: string, name: string): string | undefined {
  const match = new RegExp(`^${name}:(.*)$`, 'm').exec(text);
  return match ? match[1].trim() : undefined;
}

async function configValue(send: Send, name: string): Promise<string | undefined> {
  try {
    const reply = (await send(['CONFIG', 'GET', name])) as unknown;
    if (Array.isArray(reply)) return reply.length >= 2 ? String(reply[1]) : undefined;
    if (reply && typeof reply === 'object') return (reply as Record<string, string>)[name];
  } catch {
    // CONFIG disabled (managed Redis): unknown
  }
  return undefined;
}

export async function readServerInfo(send: Send): Promise<RedisServerInfo> {
  const text = String(await send(['INFO']));
  const aof = infoField(text, 'aof_enabled');
  return {
    version: infoField(text, 'valkey_version') ?? infoField(text, 'redis_version'),
    maxmemoryPolicy: infoField(text, 'maxmemory_policy') ?? (await configValue(send, 'maxmemory-policy')),
    appendonly: aof === undefined ? await configValue(send, 'appendonly') : aof === '1' ? 'yes' : 'no',
    appendfsync: await configValue(send, 'appendfsync'),
  };
}

/** Major and minor of a version text ("7.0.15" -> [7, 0]). */
function majorMinor(version: string | undefined): [number, number] | undefined {
  const match = /^(\d+)\.(\d+)/.exec(version ?? '');
  return match ? [Number(match[1]), Number(match[2])] : undefined;
}

export function checkServer(info: RedisServerInfo, durability: Durability): ServerVerdict {
  if (info.maxmemoryPolicy !== undefined && info.maxmemoryPolicy !== 'noeviction') {
    return {
      info,
      reason: 'eviction',
      problem: `the Redis server's maxmemory-policy is ${info.maxmemoryPolicy}: it may evict acknowledged events; set it to noeviction (CONFIG SET maxmemory-policy noeviction, and in redis.conf)`,
    };
  }
  if (durability === 'wait-aof') {
    const v = majorMinor(info.version);
    if (v && (v[0] < 7 || (v[0] === 7 && v[1] < 2))) {
      return {
        info,
        reason: 'durability',
        problem: `durability 'wait-aof' needs WAITAOF (Redis or Valkey 7.2 or later); this server is ${info.version}: upgrade it, or use durability 'server' with appendfsync always, or 'replicas:N'`,
      };
    }
    if (info.appendonly === 'no') {
      return { info, reason: 'durability', problem: `durability 'wait-aof' needs the append-only file: set appendonly yes on the Redis server` };
    }
  }
  return { info };
}
