/**
 * The durability condition an accepted event must meet before a receiver may answer `success` (see
 * redis-config.ts `Durability`). WAIT and WAITAOF cover every write made on the connection before them,
 * so they are sent on the connection that ran the accept script, right after it.
 */
import type { RedisConnection } from './redis-connection';
import { StoreUnavailableError, type RedisStoreConfig } from './redis-config';

/** Resolves once the configured condition holds; rejects (StoreUnavailableError) when it did not in time. */
export async function waitDurable(connection: Pick<RedisConnection, 'command'>, config: RedisStoreConfig): Promise<void> {
  const durability = config.durability ?? 'server';
  if (durability === 'server') return;
  const timeoutMs = config.durabilityTimeoutMs ?? 1000;
  // The command's own timeout is the wait's, plus the round trip.
  const options = { timeoutMs: timeoutMs + 1000 };
  if (durability === 'wait-aof') {
    const reply = (await connection.command(['WAITAOF', '1', '0', String(timeoutMs)], options)) as unknown[];
    if (Number(reply?.[0]) >= 1) return;
    throw new StoreUnavailableError(`the Redis server did not confirm the append-only file fsync within ${timeoutMs} ms (WAITAOF)`);
  }
  const replicas = Number(durability.slice('replicas:'.length));
  const acked = Number(await connection.command(['WAIT', String(replicas), String(timeoutMs)], options));
  if (acked >= replicas) return;
  throw new StoreUnavailableError(`only ${acked} of ${replicas} Redis replicas confirmed the event within ${timeoutMs} ms (WAIT)`);
}
