/**
 * The event center's admin routes (the editor's "DingTalk" sidebar tab, dingtalk-event-center.html):
 * the overview, the events per minute of the last hour, search, and one event with every subscriber's
 * delivery; and its actions. Viewing and exporting dead letters need `dingtalk.read`, replaying needs
 * `dingtalk.write` (the same work as dingtalk-dispatch's own routes for its dialog: dispatch-actions.ts).
 * They read the store the deployed nodes hold open (never opening one themselves) and answer with no
 * secret: payloads as received, names, counts, states; never a delivery's signed body or a credential.
 */
import type { Request, Response } from 'express';
import type { NodeAPI } from 'node-red';
import { parseMessage, sourceOf, type EventQuery, type StoredEvent } from '../core/store/event-query';
import { leaseIfOpen } from '../core/store/shared-store';
import type { StoreLease } from '../core/store/shared-store';
import { dispatchNode, exportDeadLetters, replayDeadLetters } from './dispatch-actions';
import { nodeName, overview } from './event-center-overview';
import { storeSetting } from './store-location';

export const ROUTE = '/dingtalk-event-center';
const CHART_MINUTES = 60;

/** Runs `read` on the store the nodes use; 503 when none is open (no DingTalk node deployed). */
async function withStore<T>(RED: NodeAPI, res: Response, read: (lease: StoreLease) => Promise<T>): Promise<T | undefined> {
  let lease;
  try {
    lease = leaseIfOpen(storeSetting(RED));
  } catch (err) {
    res.status(503).json({ error: 'store-setting', message: (err as Error).message });
    return undefined;
  }
  if (!lease) {
    res.status(503).json({ error: 'no-store', message: 'no DingTalk node holds the store open' });
    return undefined;
  }
  try {
    return await read(lease);
  } finally {
    lease.release();
  }
}

/** A time from the query: ms since the epoch, or a date string. */
function timeParam(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const n = /^\d+$/.test(value.trim()) ? Number(value) : Date.parse(value);
  return Number.isFinite(n) ? n : undefined;
}

function queryOf(req: Request): EventQuery {
  const q = req.query as Record<string, unknown>;
  const text = (name: string) => (typeof q[name] === 'string' ? (q[name] as string) : undefined);
  const limit = Number(text('limit'));
  return {
    eventId: text('eventId'),
    processInstanceId: text('processInstanceId'),
    userId: text('userId'),
    type: text('type'),
    from: timeParam(q.from),
    to: timeParam(q.to),
    limit: Number.isFinite(limit) ? limit : undefined,
  };
}

/** An inbox event as the sidebar shows it. */
function eventView(RED: NodeAPI, e: StoredEvent) {
  const message = parseMessage(e.message);
  const info = (message?.dingtalk ?? {}) as { eventType?: unknown };
  return {
    eventId: e.eventId,
    type: typeof info.eventType === 'string' ? info.eventType : typeof message?.topic === 'string' ? message.topic : '',
    source: sourceOf(message) ?? '',
    receiver: e.receiver,
    receiverName: nodeName(RED, e.receiver),
    app: e.scope,
    appName: e.scope ? nodeName(RED, e.scope) : '',
    receivedAt: e.receivedAt,
    handed: e.handed,
    payload: message?.payload ?? null,
  };
}

const fail = (res: Response) => (err: unknown) => {
  if (!res.headersSent) res.status(500).json({ error: 'store', message: (err as Error)?.message ?? String(err) });
};

/** The admin apps the routes are on: registered once per runtime, by the plugin or the first node module. */
const registered = new WeakSet<object>();

/**
 * Registers the routes once per runtime. Both the plugin and the dingtalk-app node module call it: Node-RED
 * 4.0 loads the plugin's editor half but its runtime half's routes were not reachable there (404), so the
 * node module, which every runtime with this package loads, registers them too.
 */
export function registerEventCenterRoutes(RED: NodeAPI): void {
  if (!RED.httpAdmin || registered.has(RED.httpAdmin)) return;
  registered.add(RED.httpAdmin);
  const read = RED.auth.needsPermission('dingtalk.read');

  RED.httpAdmin.get(`${ROUTE}/overview`, read, (_req, res) => {
    const from = Math.floor(Date.now() / 60_000) * 60_000 - (CHART_MINUTES - 1) * 60_000;
    withStore(RED, res, async (lease) => ({
      ...(await overview(RED, lease)),
      perMinute: { from, counts: await lease.store.eventsPerMinute(from, CHART_MINUTES) },
    })).then((body) => body && res.json(body), fail(res));
  });

  RED.httpAdmin.get(`${ROUTE}/events`, read, (req, res) => {
    withStore(RED, res, ({ store }) => store.searchEvents(queryOf(req))).then(
      (found) => found && res.json({ events: found.events.map((e) => eventView(RED, e)), scanned: found.scanned, complete: found.complete }),
      fail(res),
    );
  });

  RED.httpAdmin.get(`${ROUTE}/events/:eventId`, read, (req, res) => {
    const eventId = req.params.eventId;
    withStore(RED, res, async ({ store }) => {
      const [found, deliveries] = await Promise.all([store.searchEvents({ eventId }), store.deliveriesOf(eventId)]);
      return {
        events: found.events.map((e) => eventView(RED, e)),
        // Without the body: it is the event (shown above), and what was signed stays out of the editor.
        deliveries: deliveries.map(({ body: _body, ...d }) => ({ ...d, subscriberName: nodeName(RED, d.subscriber) })),
      };
    }).then((body) => body && res.json(body), fail(res));
  });

  // Replay one delivery ({subscriber, id}) or every dead letter of the subscriber ({subscriber}).
  RED.httpAdmin.post(`${ROUTE}/replay`, RED.auth.needsPermission('dingtalk.write'), (req, res) => {
    const body = (req.body ?? {}) as { subscriber?: unknown; id?: unknown };
    const node = dispatchNode(RED, body.subscriber);
    if (!node) return void res.status(404).json({ error: 'not-deployed' });
    replayDeadLetters(RED, node, body.id, res);
  });

  // The subscriber's dead letters with their events, as a JSON file.
  RED.httpAdmin.get(`${ROUTE}/dead-letters/:subscriber`, read, (req, res) => {
    const node = dispatchNode(RED, req.params.subscriber);
    if (!node) return void res.status(404).json({ error: 'not-deployed' });
    void exportDeadLetters(RED, node, res);
  });
}
