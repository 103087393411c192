/**
 * `dingtalk-dispatch`: one subscriber endpoint. Each incoming event is written to the durable outbox
 * (keyed by event and subscriber, so redelivered events are not queued twice) and delivered by a
 * core/delivery worker: signed, retried on a schedule, dead-lettered, replayable.
 * Output 1: each delivered event; output 2: each dead letter.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { aesKeyProblem, DingTalkCipher, tokenProblem } from '../core/cipher';
import { canonicalJson, contentId } from '../core/events';
import { buildAttempt, type EventMessage, type Format, storedEvent } from '../core/delivery/formats';
import { createAgents, destroyAgents, httpSend } from '../core/delivery/http-send';
import { parseSchedule, STANDARD_WEBHOOKS_SCHEDULE } from '../core/delivery/schedule';
import { secretProblem, webhookId } from '../core/delivery/signing';
import { DeliveryWorker, type Outcome, type UnrecordedDelivery } from '../core/delivery/worker';
import { typeFilter } from '../core/delivery/type-filter';
import { escapeForLog } from '../core/log-escape';
import { RateLimitedCall } from '../core/rate-limited-call';
import type { Delivery, DeliveryState } from '../core/store/store-contract';
import type { StoreLease } from '../core/store/shared-store';
import { StoreSpell } from '../core/store/store-spell';
import { sendTestDelivery, type TestDeliveryResult } from './dispatch-test';
import { dispatchNode, exportDeadLetters, replayDeadLetters, storeFailed } from './dispatch-actions';
import { statusPainter, text as tx } from './editor-text';
import { registerType } from './register-type';
import { needsRebuild, openStore, storeFailureAdvice } from './store-location';
import { DeliveryTally } from '../core/counters/tallies';
import { AlertGate } from '../core/alert-gate';
import { deadLetterAlert } from './alerts';
import { hubMetrics } from './hub-metrics';
import { storeOutage } from './store-outage';

interface DispatchDef extends NodeDef {
  url?: string;
  method?: string;
  headers?: unknown;
  format?: string;
  timeout?: number | string;
  concurrency?: number | string;
  ordered?: boolean | string;
  retrySchedule?: string;
  eventTypes?: string;
  receiveId?: string;
}

interface DispatchCredentials {
  secret?: string;
  token?: string;
  aesKey?: string;
  /** Sent as the Authorization header (e.g. "Bearer …"): a secret, so a credential, not a flow property. */
  authorization?: string;
}

export interface DispatchNode extends Node<DispatchCredentials> {
  deliveries(state: DeliveryState, limit: number, offset: number): Promise<Delivery[]>;
  replay(id?: number): Promise<number>;
  testDelivery(): Promise<TestDeliveryResult>;
  /** The endpoint's host, for the event center (no path, query or credential: those may hold secrets). */
  host: string;
  /** Since when every attempt has failed (the worker's), undefined while deliveries succeed. */
  failingSince(): number | undefined;
}

type Send = (msg: Array<NodeMessage | null>) => void;
type Done = (err?: Error) => void;

const METHODS = new Set(['POST', 'PUT', 'PATCH']);
const STATUS_INTERVAL_MS = 500;
/** A claim's lease beyond the attempt's timeout: recording the outcome, a slow event loop. */
const LEASE_MARGIN_MS = 30_000;
/** A queue shared with other instances is looked at this often (work they queued, or left when they died). */
const SHARED_POLL_MS = 1000;

function number(value: unknown, fallback: number, min: number, max: number): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : typeof value === 'number' ? value : NaN;
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

/** What Node's HTTP client accepts in a header value (no CR, LF or NUL, nothing beyond Latin-1). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Extra headers from the dialog: [{k, v}] rows (or a plain object). */
function headerMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(value)) {
    for (const row of value) {
      const k = typeof row?.k === 'string' ? row.k.trim() : '';
      if (k) out[k.toLowerCase()] = String(row.v ?? '');
    }
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) if (k.trim()) out[k.trim().toLowerCase()] = String(v);
  }
  return out;
}

/**
 * Per dispatch node id: deliveries its endpoint took whose "delivered" mark the store could not write yet
 * (a full disk). Kept across a redeploy of the node, so its next worker does not send them again.
 */
const unrecordedByNode = new Map<string, Map<number, UnrecordedDelivery>>();

export default function register(RED: NodeAPI): void {
  hubMetrics(RED); // the metrics route, once per runtime
  const lookup = (id: string) => dispatchNode(RED, id);

  RED.httpAdmin.get('/dingtalk-dispatch/:id/deliveries', RED.auth.needsPermission('dingtalk-dispatch.read'), (req, res) => {
    const node = lookup(req.params.id);
    if (!node) return void res.status(404).json({ error: 'not-deployed' });
    const state = String(req.query.state ?? 'dead') as DeliveryState;
    if (!['queued', 'delivered', 'dead'].includes(state)) return void res.status(400).json({ error: 'state', params: { state } });
    const limit = number(req.query.limit, 50, 1, 500);
    const offset = number(req.query.offset, 0, 0, Number.MAX_SAFE_INTEGER);
    node.deliveries(state, limit, offset).then(
      (rows) => res.json(rows.map(({ body: _body, ...rest }) => rest)),
      (err: Error) => storeFailed(RED, node, res, err),
    );
  });

  // Replay and export are also the event center's (event-center-routes.ts): the same work, dispatch-actions.ts.
  RED.httpAdmin.post('/dingtalk-dispatch/:id/replay', RED.auth.needsPermission('dingtalk-dispatch.write'), (req, res) => {
    const node = lookup(req.params.id);
    if (!node) return void res.status(404).json({ error: 'not-deployed' });
    replayDeadLetters(RED, node, (req.body as { id?: unknown } | undefined)?.id, res);
  });

  RED.httpAdmin.post('/dingtalk-dispatch/:id/test', RED.auth.needsPermission('dingtalk-dispatch.write'), (req, res) => {
    const node = lookup(req.params.id);
    if (!node) return void res.status(404).json({ error: 'not-deployed' });
    node.testDelivery().then(
      (result) => (result.ok ? res.json(result) : res.status(502).json({ error: result.error, params: result.params ?? {} })),
      (err: Error) => {
        node.warn(String(err?.message ?? err));
        res.status(500).json({ error: 'internal' });
      },
    );
  });

  RED.httpAdmin.get('/dingtalk-dispatch/:id/dead-letters', RED.auth.needsPermission('dingtalk-dispatch.read'), (req, res) => {
    const node = lookup(req.params.id);
    if (!node) return void res.status(404).json({ error: 'not-deployed' });
    void exportDeadLetters(RED, node, res);
  });

  function DingTalkDispatch(this: DispatchNode, def: DispatchDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = (key: string, params: Record<string, string | number> = {}) => RED._(`dingtalk-dispatch.${key}`, params);
    const painter = statusPainter(RED, node);
    const creds = node.credentials ?? {};
    const format: Format = def.format === 'dingtalk' ? 'dingtalk' : 'json';
    const accepts = typeFilter(def.eventTypes ?? '');

    // --- configuration: anything wrong is reported, and events are still queued (never lost) ---
    const problems: string[] = [];
    let url: URL | undefined;
    try {
      url = new URL(String(def.url ?? ''));
      if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push(t('errors.url', { url: String(def.url) }));
    } catch {
      problems.push(t('errors.url', { url: String(def.url ?? '') }));
    }
    let schedule: number[] = parseSchedule(STANDARD_WEBHOOKS_SCHEDULE);
    try {
      if (def.retrySchedule && def.retrySchedule.trim()) schedule = parseSchedule(def.retrySchedule);
    } catch (err) {
      problems.push(t('errors.schedule', { message: (err as Error).message }));
    }
    let cipher: DingTalkCipher | undefined;
    if (format === 'dingtalk') {
      const issue = tokenProblem(creds.token) ?? aesKeyProblem(creds.aesKey) ?? (def.receiveId ? undefined : 'receive id is missing');
      if (issue) problems.push(t('errors.dingtalk-format', { message: issue }));
      else cipher = new DingTalkCipher({ token: creds.token as string, aesKey: creds.aesKey as string, receiveId: String(def.receiveId) });
    } else if (creds.secret && secretProblem(creds.secret)) {
      problems.push(t('errors.secret', { message: secretProblem(creds.secret) as string }));
    }
    const method = METHODS.has(String(def.method ?? 'POST').toUpperCase()) ? String(def.method ?? 'POST').toUpperCase() : 'POST';
    const timeoutMs = number(def.timeout, 15, 1, 300) * 1000;
    const concurrency = Math.floor(number(def.concurrency, 4, 1, 64));
    const ordered = def.ordered === true || def.ordered === 'true';
    const headers = headerMap(def.headers);
    const authorization = creds.authorization?.trim();
    if (authorization) {
      if (HEADER_VALUE.test(authorization)) headers.authorization = authorization; // over a plain header of that name
      else problems.push(t('errors.authorization'));
    }

    let lease: StoreLease | undefined;
    let storeProblem = '';
    let rebuild = false;
    try {
      lease = openStore(RED, node, () => status.request());
    } catch (err) {
      rebuild = needsRebuild(err);
      storeProblem = t('errors.store', { message: storeFailureAdvice(RED, err) });
      problems.push(storeProblem);
    }
    const store = lease?.store;
    for (const problem of problems) node.error(problem);
    // Attempts are counted in the store (delivered, failed, dead), so the status's "delivered" and the
    // metrics survive deploys, restarts and the pruning of delivered records.
    const tally = lease ? new DeliveryTally(lease.counters, node.id) : undefined;
    const metrics = hubMetrics(RED);
    const attempted = (outcome: 'delivered' | 'failed' | 'dead', o: Outcome) => {
      tally?.attempt(outcome);
      metrics.observeDelivery(node.id, outcome, o.durationMs / 1000);
    };
    const unwatch = lease?.counters.watch(() => status.request());
    // A dead letter raises an error a catch node receives: the first at once, then at most one a minute
    // with how many there were (alerts.ts).
    const alerts = new AlertGate<{ report: Record<string, unknown>; eventId: string }>((_key, last, count) => {
      node.error(t('errors.alert-dead', { count, eventId: escapeForLog(last.eventId) }), deadLetterAlert(node, last.report, last.eventId, count));
    });

    const agents = createAgents(concurrency);
    // The worker and the status timer run from timers: a failing store (busy, locked by another process,
    // disk full) shows in the status and is logged once per failing spell, and again when it recovers.
    const storeSpell = new StoreSpell({
      failing: (err) => {
        if (!closed) node.warn(t('errors.store-failing', { message: (err as Error)?.message ?? String(err) }));
      },
      recovered: () => {
        if (!closed) node.log(t('log.store-recovered'));
      },
    });
    // Set when the node closes: a store write or timer finishing later must not touch the store again
    // (the last node to let go closes it) nor report on a node that is gone.
    let closed = false;
    let send: Send = (msgs) => node.send(msgs as unknown as NodeMessage[]);

    const eventOf = (d: Delivery) => {
      const stored = JSON.parse(d.body) as EventMessage;
      return { payload: stored.payload, dingtalk: stored.dingtalk };
    };
    const report = (d: Delivery, o: Outcome) => ({
      topic: d.eventType,
      ...eventOf(d),
      delivery: {
        id: d.id,
        url: url?.href,
        webhookId: webhookId(d.eventId, node.id),
        attempts: o.attempts,
        status: o.status,
        durationMs: o.durationMs,
        ...(o.error ? { error: o.error } : {}),
      },
    });

    const worker = store && url && problems.length === 0
      ? new DeliveryWorker({
          subscriber: node.id,
          store,
          schedule,
          concurrency,
          ordered,
          // A claim holds a delivery for longer than its attempt may take (the lease needs no renewal).
          leaseMs: timeoutMs + LEASE_MARGIN_MS,
          pollMs: store.shared ? SHARED_POLL_MS : undefined,
          jitter: 0.1,
          attempt: async (d) => {
            const attempt = buildAttempt({ format, url: (url as URL).href, headers, subscriber: node.id, secret: creds.secret, cipher }, d.eventId, d.body, Date.now());
            const result = await httpSend(attempt.url, { method, headers: attempt.headers, body: attempt.body, timeoutMs, agents });
            const verdict = attempt.accept(result);
            return { result, ok: verdict.ok, reason: verdict.reason };
          },
          onDelivered: (o) => {
            attempted('delivered', o);
            send([report(o.delivery, o) as unknown as NodeMessage, null]);
          },
          onRetry: (o) => attempted('failed', o),
          onDead: (o) => {
            attempted('dead', o);
            // The id comes from the push and the error may quote the subscriber's answer: one line each.
            node.warn(t('errors.dead', { eventId: escapeForLog(o.delivery.eventId), error: escapeForLog(o.error ?? '', 300) }));
            const dead = report(o.delivery, o);
            send([null, dead as unknown as NodeMessage]);
            alerts.offer('dead', { report: dead, eventId: o.delivery.eventId });
          },
          onChange: () => status.request(),
          unrecorded: (() => {
            let kept = unrecordedByNode.get(node.id);
            if (!kept) unrecordedByNode.set(node.id, (kept = new Map()));
            return kept;
          })(),
          onStoreError: (err) => {
            storeSpell.failed(err, 'worker'); // once per spell; the worker retries with back-off
            status.request();
          },
          onStoreRecovered: () => {
            storeSpell.worked('worker');
            status.request();
          },
        })
      : undefined;

    // Counts are asked of the store, which answers later: only the latest answer is painted.
    let statusAsked = 0;
    const status = new RateLimitedCall(() => {
      if (closed) return;
      if (!store || problems.length > 0) {
        painter.show('red', 'ring', tx(rebuild ? 'dingtalk-dispatch.status.store-rebuild' : 'dingtalk-dispatch.status.not-configured'));
        return;
      }
      // The server is down or refusing (the worker pauses): no counts to ask for.
      const outage = storeOutage(lease);
      if (outage) return void painter.show('red', 'ring', tx(`dingtalk-dispatch.status.${outage}`));
      const asked = ++statusAsked;
      store.counts(node.id).then(
        (counts) => {
          if (closed || asked !== statusAsked) return;
          storeSpell.worked('status', 'read');
          // Delivered: the persisted count of deliveries, not the delivered records (pruned after some days).
          paintCounts(tally ? { ...counts, delivered: tally.counts().delivered } : counts);
        },
        (err: unknown) => {
          if (closed || asked !== statusAsked) return;
          storeSpell.failed(err, 'status', 'read'); // skipped this time, asked again after the interval
          painter.show('yellow', 'ring', tx('dingtalk-dispatch.status.store-failing'));
          status.request();
        },
      );
    }, STATUS_INTERVAL_MS);
    const paintCounts = (counts: Record<DeliveryState, number>) => {
      if (storeSpell.failing) {
        painter.show('yellow', 'ring', tx('dingtalk-dispatch.status.store-failing'));
      } else if (worker?.failingSince !== undefined) {
        const since = new Date(worker.failingSince).toTimeString().slice(0, 5);
        painter.show('red', 'dot', tx('dingtalk-dispatch.status.failing', { since, queued: counts.queued, dead: counts.dead }));
      } else {
        painter.show(counts.dead > 0 ? 'yellow' : 'green', 'dot', tx('dingtalk-dispatch.status.counts', { queued: counts.queued, delivered: counts.delivered, dead: counts.dead }));
      }
    };
    status.runNow();
    worker?.start();

    // Delivered records are kept dingtalkDispatchKeepDeliveredDays (default 7) for the dialog and logs;
    // the store's housekeeper forgets them after that (store-housekeeping.ts).

    node.deliveries = async (state, limit, offset) => (store ? store.list(node.id, state, limit, offset) : []);
    node.testDelivery = async () => {
      if (!url || problems.length > 0) return { ok: false, error: 'not-configured' };
      const formatOptions = { format, url: url.href, headers, subscriber: node.id, secret: creds.secret, cipher };
      return sendTestDelivery({ format: formatOptions, method, timeoutMs, agents, accepts });
    };
    node.host = url?.host ?? '';
    node.failingSince = () => worker?.failingSince;
    node.replay = async (id) => {
      if (!store) return 0;
      const n = await store.replay(node.id, id);
      worker?.wake();
      status.request();
      return n;
    };

    node.on('input', (msg: NodeMessage, nodeSend: Send, done: Done) => {
      send = nodeSend;
      const event = msg as unknown as EventMessage;
      const eventType = event.dingtalk?.eventType ?? (typeof event.topic === 'string' ? event.topic : '');
      if (!accepts(eventType)) return void done();
      if (!store) return void done(new Error(storeProblem));
      const eventId = event.dingtalk?.eventId ?? contentId(canonicalJson(event.payload ?? null));
      store.enqueue(node.id, eventId, eventType, storedEvent(event), schedule[0]).then(
        () => {
          worker?.wake();
          status.request();
          done();
        },
        (err: Error) => done(err),
      );
    });

    node.on('close', (removed: boolean, done: () => void) => {
      closed = true;
      status.cancel();
      alerts.close();
      unwatch?.();
      const stopped = worker ? worker.stop() : Promise.resolve();
      void stopped.finally(() => {
        if (removed || unrecordedByNode.get(node.id)?.size === 0) unrecordedByNode.delete(node.id);
        destroyAgents(agents);
        lease?.release();
        done();
      });
    });
  }

  registerType(RED, 'dingtalk-dispatch', DingTalkDispatch, {
    credentials: {
      secret: { type: 'password' },
      token: { type: 'password' },
      aesKey: { type: 'password' },
      authorization: { type: 'password' },
    },
  });
}
