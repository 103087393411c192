/**
 * The event center's overview: per receiver and per dispatch node, the numbers kept in the store, so
 * that a deploy or a restart does not reset them. Counts come from the store's counters (the lease's
 * CountBatcher, read as counter-names.ts names them), queues from the store itself; only "failing since"
 * is the running worker's. The receivers are the deployed dingtalk-event-in nodes and, for every app with
 * a deployed dingtalk-stream-in, the app's Stream receiver (key `stream:<app id>`). Nothing secret leaves
 * it: names, paths, counts, times, and a subscriber's host.
 */
import type { Node, NodeAPI } from 'node-red';
import { counterNames, emptyReceiverCounts, hubCounts } from '../core/counters/counter-names';
import { MINUTE_MS, minuteOf } from '../core/store/counter-store';
import { normalisePath } from '../core/http/route-table';
import type { StoreLease } from '../core/store/shared-store';
import type { DeliveryState } from '../core/store/store-contract';
import { STREAM_RECEIVER_PREFIX, streamReceiverKey } from './deployed-nodes';
import type { DispatchNode } from './dingtalk-dispatch';
import { DEFAULT_PATH } from './dingtalk-event-in';

/** "Delivered per minute" is the average over this many minutes (the current one included). */
export const RATE_MINUTES = 5;

export interface ReceiverOverview {
  /** The dingtalk-event-in node's id, or `stream:<app id>` for an app's Stream receiver. */
  id: string;
  name: string;
  kind: 'http' | 'stream';
  /** The HTTP receiver's path ('' for Stream). */
  path: string;
  received: number;
  duplicates: number;
  rejected: number;
  rejectedByCode: Record<string, number>;
  poison: number;
  lastEventAt?: number;
}

export interface DispatchOverview {
  id: string;
  name: string;
  host: string;
  /** Queued and dead: the store's queue now; delivered: every delivery counted (not pruned with the records). */
  counts: Record<DeliveryState, number>;
  /** How long (ms) the oldest queued delivery has waited; undefined when nothing is queued. */
  oldestQueuedAge?: number;
  deliveredPerMinute: number;
  failingSince?: number;
}

export interface Overview {
  receivers: ReceiverOverview[];
  dispatchers: DispatchOverview[];
}

type Named = Node & { name?: string };
interface DeployedConfig {
  id: string;
  type: string;
  url?: string;
  app?: string;
}

/** The deployed configurations of one type whose node runs (a node on a disabled tab does not). */
function running(RED: NodeAPI, type: string): { config: DeployedConfig; node: Named }[] {
  const out: { config: DeployedConfig; node: Named }[] = [];
  RED.nodes.eachNode((config) => {
    if (config.type !== type) return;
    const node = RED.nodes.getNode(config.id) as Named | null;
    if (node) out.push({ config: config as unknown as DeployedConfig, node });
  });
  return out;
}

const nameOf = (node: Named) => node.name || node.id;

/** The receivers: each running dingtalk-event-in, and each app that a running dingtalk-stream-in listens to. */
function receiverList(RED: NodeAPI): Omit<ReceiverOverview, 'received' | 'duplicates' | 'rejected' | 'rejectedByCode' | 'poison'>[] {
  const http = running(RED, 'dingtalk-event-in').map(({ config, node }) => ({
    id: node.id,
    name: nameOf(node),
    kind: 'http' as const,
    path: normalisePath(config.url || DEFAULT_PATH),
  }));
  const apps = new Map<string, Named>();
  for (const { config } of running(RED, 'dingtalk-stream-in')) {
    const app = config.app ? (RED.nodes.getNode(config.app) as Named | null) : null;
    if (app) apps.set(app.id, app);
  }
  const stream = [...apps.values()].map((app) => ({ id: streamReceiverKey(app.id), name: nameOf(app), kind: 'stream' as const, path: '' }));
  return [...http, ...stream];
}

/** The average per minute over the last RATE_MINUTES minutes of a per-minute series. */
async function perMinute(lease: StoreLease, name: string, now: number): Promise<number> {
  const since = minuteOf(now) - (RATE_MINUTES - 1) * MINUTE_MS;
  const points = await lease.store.minuteSeries(name, since);
  return points.reduce((sum, p) => sum + (p.minute >= since ? p.count : 0), 0) / RATE_MINUTES;
}

export async function overview(RED: NodeAPI, lease: StoreLease): Promise<Overview> {
  // What was counted in this process goes to the store first (the per-minute series are read from it),
  // then the totals are read again (a shared store: what the other instances counted).
  await lease.counters.flush();
  await lease.counters.refresh();
  const counts = hubCounts(lease.counters.totals(), lease.counters.latest());
  const receivers = receiverList(RED).map((r) => {
    const c = counts.receivers[r.id] ?? emptyReceiverCounts();
    return { ...r, received: c.received, duplicates: c.duplicates, rejected: c.rejected, rejectedByCode: c.codes, poison: c.poison, lastEventAt: c.lastEventAt };
  });
  const now = Date.now();
  const store = lease.store;
  const dispatchers = await Promise.all(
    running(RED, 'dingtalk-dispatch').map(async ({ node }): Promise<DispatchOverview> => {
      const dispatch = node as Partial<DispatchNode> & Named;
      const [queue, oldestQueuedAge, deliveredPerMinute] = await Promise.all([
        store.counts(node.id),
        store.oldestQueuedAge(node.id),
        perMinute(lease, counterNames.deliveredMinutes(node.id), now),
      ]);
      return {
        id: node.id,
        name: nameOf(node),
        host: dispatch.host ?? '',
        counts: { queued: queue.queued, delivered: counts.subscribers[node.id]?.delivered ?? 0, dead: queue.dead },
        oldestQueuedAge,
        deliveredPerMinute,
        failingSince: dispatch.failingSince?.(),
      };
    }),
  );
  const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);
  return { receivers: receivers.sort(byName), dispatchers: dispatchers.sort(byName) };
}

/** A node's name for the event center (a receiver key `stream:<app>` names its app), '' when gone. */
export function nodeName(RED: NodeAPI, id: string): string {
  const node = RED.nodes.getNode(id.startsWith(STREAM_RECEIVER_PREFIX) ? id.slice(STREAM_RECEIVER_PREFIX.length) : id) as Named | null;
  return node ? nameOf(node) : '';
}
