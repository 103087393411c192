/**
 * What the hub counts, and under which names the store keeps it (count-batcher.ts, counter-store.ts).
 * A name is parts joined by ':', each part URI-encoded, so that a node id or an error code never
 * changes where a name splits:
 *   in:<receiver>:<app>:<source>      events received (new), source http | stream | recovery | test
 *   dup:<receiver>:<app>:<source>     duplicates acknowledged and not emitted
 *   rej:<receiver>:<code>             pushes rejected, by error code
 *   poison:<receiver>:<source>        authentic events that cannot be processed (acknowledged, not emitted)
 *   last:<receiver>                   latest time (ms): the receiver's last event
 *   out:<subscriber>:<outcome>        delivery attempts by outcome: delivered | failed (retried) | dead
 * Per minute (the chart of the last hour): `in` (the hub), in:<receiver>, out:<subscriber>:delivered.
 * `app` is the receiving dingtalk-app's AppKey (not a secret: DingTalk's client id), '' when none.
 */

export type EventSource = 'http' | 'stream' | 'recovery' | 'test';
export type DeliveryOutcome = 'delivered' | 'failed' | 'dead';

const join = (...parts: string[]) => parts.map(encodeURIComponent).join(':');
const split = (name: string) => name.split(':').map(decodeURIComponent);

export const counterNames = {
  received: (receiver: string, app: string, source: string) => join('in', receiver, app, source),
  duplicate: (receiver: string, app: string, source: string) => join('dup', receiver, app, source),
  rejected: (receiver: string, code: string) => join('rej', receiver, code),
  poison: (receiver: string, source: string) => join('poison', receiver, source),
  lastEvent: (receiver: string) => join('last', receiver),
  delivery: (subscriber: string, outcome: DeliveryOutcome) => join('out', subscriber, outcome),
  /** Per-minute series. */
  hubMinutes: 'in',
  receiverMinutes: (receiver: string) => join('in', receiver),
  deliveredMinutes: (subscriber: string) => join('out', subscriber, 'delivered'),
};

export interface ReceiverCounts {
  received: number;
  /** received, per source */
  sources: Record<string, number>;
  /** received, per app then source (the metrics' labels) */
  apps: Record<string, Record<string, number>>;
  duplicates: number;
  rejected: number;
  /** rejected, per error code */
  codes: Record<string, number>;
  poison: number;
  lastEventAt?: number;
}

export type SubscriberCounts = Record<DeliveryOutcome, number>;

export interface HubCounts {
  receivers: Record<string, ReceiverCounts>;
  subscribers: Record<string, SubscriberCounts>;
}

export const emptyReceiverCounts = (): ReceiverCounts => ({ received: 0, sources: {}, apps: {}, duplicates: 0, rejected: 0, codes: {}, poison: 0 });
export const emptySubscriberCounts = (): SubscriberCounts => ({ delivered: 0, failed: 0, dead: 0 });

const add = (into: Record<string, number>, key: string, n: number) => {
  into[key] = (into[key] ?? 0) + n;
};

/** The totals and latest times, read as receivers' and subscribers' counts. Unknown names are left out. */
export function hubCounts(totals: Record<string, number>, latest: Record<string, number> = {}): HubCounts {
  const receivers: Record<string, ReceiverCounts> = {};
  const subscribers: Record<string, SubscriberCounts> = {};
  const receiver = (id: string) => (receivers[id] ??= emptyReceiverCounts());
  for (const [name, n] of Object.entries(totals)) {
    const [kind, id, a, b] = split(name);
    if (id === undefined) continue;
    if (kind === 'in' && b !== undefined) {
      const r = receiver(id);
      r.received += n;
      add(r.sources, b, n);
      add((r.apps[a] ??= {}), b, n);
    } else if (kind === 'dup' && b !== undefined) receiver(id).duplicates += n;
    else if (kind === 'rej' && a !== undefined) {
      const r = receiver(id);
      r.rejected += n;
      add(r.codes, a, n);
    } else if (kind === 'poison') receiver(id).poison += n;
    else if (kind === 'out' && (a === 'delivered' || a === 'failed' || a === 'dead')) (subscribers[id] ??= emptySubscriberCounts())[a] += n;
  }
  for (const [name, at] of Object.entries(latest)) {
    const [kind, id] = split(name);
    if (kind === 'last' && id !== undefined) receiver(id).lastEventAt = at;
  }
  return { receivers, subscribers };
}
