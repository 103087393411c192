/**
 * Where the event center's overview takes its numbers from: today the deployed nodes themselves (a
 * receiver counts its pushes in memory; a dispatch node asks the store for its queue). This one function
 * is the data source, so that counters kept in the store can replace the receivers' in-memory ones here
 * alone. Nothing secret leaves it: names, paths, counts, times, and a subscriber's host.
 */
import type { Node, NodeAPI } from 'node-red';
import { STREAM_RECEIVER_PREFIX } from './deployed-nodes';
import type { DispatchNode, DispatchStats } from './dingtalk-dispatch';

/** What a dingtalk-event-in node counts since it started (see dingtalk-event-in.ts). */
export interface ReceiverStats {
  path: string;
  received: number;
  duplicates: number;
  rejected: number;
  poison: number;
  rejectedByCode: Record<string, number>;
  lastEventAt?: number;
}

export interface ReceiverOverview extends ReceiverStats {
  id: string;
  name: string;
}

export interface DispatchOverview extends DispatchStats {
  id: string;
  name: string;
}

export interface Overview {
  receivers: ReceiverOverview[];
  dispatchers: DispatchOverview[];
}

type Running<T> = Node & { name?: string } & T;

/** The deployed nodes of one type that are running (a node on a disabled tab is not). */
function running<T>(RED: NodeAPI, type: string): Running<T>[] {
  const out: Running<T>[] = [];
  RED.nodes.eachNode((config) => {
    if (config.type !== type) return;
    const node = RED.nodes.getNode(config.id) as Running<T> | null;
    if (node) out.push(node);
  });
  return out;
}

const nameOf = (node: Node & { name?: string }) => node.name || node.id;

export async function overview(RED: NodeAPI): Promise<Overview> {
  const receivers = running<{ stats?: () => ReceiverStats }>(RED, 'dingtalk-event-in')
    .filter((n) => typeof n.stats === 'function')
    .map((n) => ({ id: n.id, name: nameOf(n), ...(n.stats as () => ReceiverStats)() }));
  const dispatchers = await Promise.all(
    running<Partial<Pick<DispatchNode, 'stats'>>>(RED, 'dingtalk-dispatch')
      .filter((n) => typeof n.stats === 'function')
      .map(async (n) => ({ id: n.id, name: nameOf(n), ...(await (n.stats as () => Promise<DispatchStats>)()) })),
  );
  const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);
  return { receivers: receivers.sort(byName), dispatchers: dispatchers.sort(byName) };
}

/** A node's name for the event center (a receiver key `stream:<app>` names its app), '' when gone. */
export function nodeName(RED: NodeAPI, id: string): string {
  const node = RED.nodes.getNode(id.startsWith(STREAM_RECEIVER_PREFIX) ? id.slice(STREAM_RECEIVER_PREFIX.length) : id) as (Node & { name?: string }) | null;
  return node ? nameOf(node) : '';
}
