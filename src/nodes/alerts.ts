/**
 * The messages of alerts (core/alert-gate.ts): a dead letter on dingtalk-dispatch and a spell of rejected
 * pushes on dingtalk-event-in raise node.error(text, msg), which a core `catch` node receives. Every such
 * msg carries `msg.alert` (documented in the nodes' help and the README):
 *   kind        'dead-letter' | 'rejected-pushes'
 *   code        'dead-letter', or the rejection's error code (bad-signature, store-unavailable, ...)
 *   count       how many this alert stands for (those within the last minute are raised together)
 *   node, nodeName, nodeType   the node that raised it
 *   subscriber, eventId, eventType, status, error, attempts, url    (dead letters: the last attempt)
 *   path, status, reason       (rejected pushes: the receiver's path, the latest rejection's answer)
 *   at          when it was raised (ms)
 * No secret is ever in it: no credentials, headers or bodies of requests.
 */
import type { Node, NodeMessage } from 'node-red';

export interface Alert {
  kind: 'dead-letter' | 'rejected-pushes';
  code: string;
  count: number;
  node: string;
  nodeName: string;
  nodeType: string;
  at: number;
  subscriber?: string;
  eventId?: string;
  eventType?: string;
  status?: number;
  error?: string;
  attempts?: number;
  url?: string;
  path?: string;
  reason?: string;
}

const source = (node: Node) => ({ node: node.id, nodeName: node.name ?? '', nodeType: node.type });
const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

export function rejectionAlert(node: Node, detail: { code: string; count: number; status?: number; reason?: string; path: string }): NodeMessage {
  const alert: Alert = defined({ kind: 'rejected-pushes', ...source(node), at: Date.now(), ...detail });
  return { topic: 'dingtalk-alert', payload: alert, alert } as unknown as NodeMessage;
}

/** `report` is the dead-letter output's message (the event, and msg.delivery). */
/** A URL without its user info, query or fragment (where a subscriber's token might sit). */
function bareUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return undefined;
  }
}

export function deadLetterAlert(node: Node, report: Record<string, unknown>, eventId: string, count: number): NodeMessage {
  const delivery = (report.delivery ?? {}) as { attempts?: number; status?: number; error?: string; url?: string };
  const dingtalk = (report.dingtalk ?? {}) as { eventId?: string; eventType?: string };
  const alert: Alert = defined({
    kind: 'dead-letter',
    code: 'dead-letter',
    count,
    ...source(node),
    at: Date.now(),
    subscriber: node.id,
    eventId: eventId || dingtalk.eventId,
    eventType: dingtalk.eventType ?? (typeof report.topic === 'string' ? report.topic : undefined),
    status: delivery.status,
    error: delivery.error,
    attempts: delivery.attempts,
    url: bareUrl(delivery.url),
  });
  return { ...report, delivery: { ...delivery, url: alert.url }, alert } as unknown as NodeMessage;
}
