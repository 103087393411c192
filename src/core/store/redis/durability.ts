/**
 * The durability condition an accepted event must meet before a receiver may answer `success` (see
 * redis-config.ts `Durability`). WAIT and WAITAOF cover every write made on the connection before them,
 * so they are sent on the connection that ran the accept scripts. They block that connection while they
 * wait (a slow replica, an fsync once a second): the accepts have a connection of their own, so claims,
 * outcomes and heartbeats never queue behind a wait; and one wait covers every accept answered before it
 * is sent (DurabilityWaits), so a slow condition costs each accept one wait, not one per accept before it.
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

/**
 * Group waits: an accept answered by the server asks for the next wait not sent yet; it is sent once the
 * wait in flight (if any) has ended, and covers every accept answered before it was sent.
 */
export class DurabilityWaits {
  private inFlight: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(
    private readonly connection: Pick<RedisConnection, 'command'>,
    private readonly config: RedisStoreConfig,
  ) {}

  /** Resolves once the condition holds for every write this connection had answered before the call. */
  wait(): Promise<void> {
    if ((this.config.durability ?? 'server') === 'server') return Promise.resolve();
    if (this.next) return this.next;
    const before = this.inFlight ? this.inFlight.catch(() => undefined) : Promise.resolve();
    const next = before.then(() => {
      this.next = undefined; // from now on, callers join the wait after this one
      const sent = waitDurable(this.connection, this.config);
      this.inFlight = sent;
      const clear = () => {
        if (this.inFlight === sent) this.inFlight = undefined;
      };
      sent.then(clear, clear);
      return sent;
    });
    this.next = next;
    return next;
  }
}
