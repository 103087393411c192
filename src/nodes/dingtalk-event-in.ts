/**
 * `dingtalk-event-in`: DingTalk's HTTP push endpoint on RED.httpNode. The decision for each request
 * lives in core/receiver; this file wires it to the route table, answers, emits and keeps the status.
 */
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { scopeContentKey } from '../core/events';
import { adminAppCovers, type HttpRootSettings } from '../core/http/admin-root';
import { DEFAULT_BODY_TIMEOUT_MS, readBody } from '../core/http/read-body';
import { errorStatus, middlewareList } from '../core/http/middleware-chain';
import { normalisePath, type RouteHandler, type RouteTable, routeTableFor } from '../core/http/route-table';
import { escapeForLog } from '../core/log-escape';
import { LogThrottle } from '../core/log-throttle';
import { RateLimitedCall } from '../core/rate-limited-call';
import { poisonLogParams, poisonMessage } from '../core/poison';
import { freshnessFor } from '../core/push-age';
import { CallbackReceiver, type EventIntake, type Outcome } from '../core/receiver';
import { recoverMissedEvents } from '../core/recovery';
import type { HandoffReceiver } from '../core/handoff/tracker';
import type { StoreLease } from '../core/store/shared-store';
import { StoreSpell } from '../core/store/store-spell';
import type { DingTalkAppNode } from './dingtalk-app';
import { isTestPush, newTestKey, registerTestRoutes, type TestTarget } from './event-in-test';
import { DEFAULT_HANDOFF_SECONDS, handoffTracker } from './handoff-hooks';
import { statusPainter, text as tx } from './editor-text';
import { appText } from './app-texts';
import { registerType } from './register-type';
import { afterNextStart } from './runtime-events';
import { needsRebuild, openStore, storeFailureAdvice } from './store-location';
import { storeOutage } from './store-outage';
import { DEFAULT_DEDUP_SECONDS, dedupSeconds } from './store-housekeeping';
import { ReceiverTally } from '../core/counters/tallies';
import { AlertGate } from '../core/alert-gate';
import { hubMetrics } from './hub-metrics';
import { rejectionAlert } from './alerts';

interface EventInDef extends NodeDef {
  app?: string;
  url?: string;
  normalise?: boolean;
  recover?: boolean;
  recoverInterval?: number | string;
}

interface EventInSettings extends HttpRootSettings {
  httpNodeMiddleware?: unknown;
  dingtalkEventInMaxBody?: number;
  dingtalkEventInDedupSeconds?: number;
  dingtalkEventInMaxAgeSeconds?: number;
  dingtalkEventInBodyTimeoutSeconds?: number;
}

export const DEFAULT_PATH = '/dingtalk/events';
export const DEFAULTS = { maxBody: 256 * 1024, dedupSeconds: DEFAULT_DEDUP_SECONDS, bodyTimeoutSeconds: DEFAULT_BODY_TIMEOUT_MS / 1000 } as const;
const STATUS_INTERVAL_MS = 250;
const LOUD_REJECTIONS_PER_MINUTE = 10;

type Query = Record<string, unknown>;
type ExpressRequest = IncomingMessage & { query?: Query };

function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

function queryOf(req: ExpressRequest): Query {
  if (req.query && typeof req.query === 'object') return req.query;
  return Object.fromEntries(new URL(req.url ?? '/', 'http://local').searchParams);
}

function sendJson(res: ServerResponse, status: number, body: unknown, close = false): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  };
  if (status === 405) headers.Allow = 'POST';
  if (close) headers.Connection = 'close';
  res.writeHead(status, headers);
  res.end(text);
}

/** Tables with reservations waiting for the end of the current deploy (one listener each, not per node). */
const settling = new WeakSet<RouteTable>();

/** Ends the table's reservations once the deploy has started the flows (see RouteTable.release). */
function settleAfterDeploy(RED: NodeAPI, table: RouteTable): void {
  if (settling.has(table)) return;
  settling.add(table);
  afterNextStart(RED, () => {
    settling.delete(table);
    table.settle();
  });
}

export default function register(RED: NodeAPI): void {
  const settings = RED.settings as unknown as EventInSettings;
  // Logged once per runtime, not per receiver or deploy: it is about settings.js, not a node.
  let sharedRootLogged = false;

  function DingTalkEventIn(this: Node, def: EventInDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const path = normalisePath(def.url || DEFAULT_PATH);
    const app = (def.app ? RED.nodes.getNode(def.app) : null) as DingTalkAppNode | null;
    // Counted in the store (through its batcher), so a deploy or a restart does not reset them; the event
    // center and the metrics read the same counts there. Without a store, in memory only (the status).
    let tally: ReceiverTally | undefined;
    const local = { received: 0, duplicates: 0, rejected: 0, poison: 0 };
    const counts = {
      get received() {
        return tally ? tally.counts().received : local.received;
      },
      get duplicates() {
        return tally ? tally.counts().duplicates : local.duplicates;
      },
      get rejected() {
        return tally ? tally.counts().rejected : local.rejected;
      },
      get poison() {
        return tally ? tally.counts().poison : local.poison;
      },
    };
    const t = (key: string, params: Record<string, string | number> = {}) => RED._(`dingtalk-event-in.${key}`, params);
    const painter = statusPainter(RED, node);

    if (settings.httpNodeRoot === false || !RED.httpNode) {
      node.warn(t('errors.no-http'));
      painter.show('red', 'ring', tx('dingtalk-event-in.status.no-http'));
      return;
    }

    const maxBody = positive(settings.dingtalkEventInMaxBody, DEFAULTS.maxBody);
    // Acknowledged means durable: every event goes into the store's inbox (also the de-duplication
    // window, kept dingtalkEventInDedupSeconds by the store's housekeeper) before DingTalk hears "success".
    let lease: StoreLease | undefined;
    /** The store did not open because better-sqlite3 does not load in this Node.js: the status says rebuild. */
    let rebuild = false;
    const intake: EventIntake = (eventId, message, contentKey) => {
      if (!lease) return Promise.reject(new Error(t('status.store-error')));
      return lease.store.accept(eventId, node.id, message, scopeContentKey(def.app ?? '', contentKey), def.app ?? '');
    };
    try {
      // The server back: the pushes refused meanwhile end their failing spell with it.
      lease = openStore(RED, node, () => {
        if (!storeOutage(lease)) storeSpell.worked();
        if (listening) status.runNow();
      });
    } catch (err) {
      rebuild = needsRebuild(err);
      node.error(t('errors.store', { message: storeFailureAdvice(RED, err) }));
    }
    if (lease) tally = new ReceiverTally(lease.counters, node.id, app?.appKey ?? '');
    // The counts of other instances (Redis) and of the store's first read show when they arrive.
    const unwatch = lease?.counters.watch(() => {
      if (listening) status.request();
    });
    const count = {
      received: (source: string) => (tally ? tally.received(source) : (local.received += 1)),
      duplicate: (source: string) => (tally ? tally.duplicate(source) : (local.duplicates += 1)),
      rejected: (code: string, detail: { status?: number; reason?: string } = {}) => {
        if (tally) tally.rejected(code);
        else local.rejected += 1;
        alerts.offer(code, detail);
      },
      poison: (source: string) => (tally ? tally.poison(source) : (local.poison += 1)),
    };
    // A spell of rejected pushes raises an error a catch node receives: the first at once, then at most
    // one a minute per error code, with how many there were (alerts.ts).
    const alerts = new AlertGate<{ status?: number; reason?: string }>((code, last, count) => {
      const alert = rejectionAlert(node, { code, count, status: last.status, reason: last.reason, path });
      node.error(t('errors.alert-rejected', { count, code, path }), alert);
    });
    const intakeFrom = (source: string): EventIntake => (eventId, message, contentKey) =>
      intake(eventId, message, contentKey).then((verdict) => {
        if (verdict === 'new') count.received(source);
        else count.duplicate(source);
        return verdict;
      });
    const dedupMs = dedupSeconds(settings.dingtalkEventInDedupSeconds) * 1000;
    // Pushes signed longer ago than the inbox remembers ids are refused (replays), see core/push-age.
    const maxAgeSeconds = settings.dingtalkEventInMaxAgeSeconds;
    const freshness = freshnessFor(dedupMs, maxAgeSeconds === undefined ? undefined : positive(maxAgeSeconds, dedupMs / 1000) * 1000);
    const bodyTimeoutMs = positive(settings.dingtalkEventInBodyTimeoutSeconds, DEFAULTS.bodyTimeoutSeconds) * 1000;
    const receiver = new CallbackReceiver(
      () => (app ? app.callbackCrypto() : { ok: false, problem: { key: 'no-app' } }),
      intake,
      { normalise: def.normalise === true, scope: def.app ?? '', freshness },
    );
    // The editor's body parser reads every push first when it shares the receiver's root (admin-root.ts).
    const behindAdminParser = adminAppCovers(settings, path);
    if (behindAdminParser && !sharedRootLogged) {
      sharedRootLogged = true;
      RED.log.warn(t('errors.shared-root', { path }));
    }
    const throttle = new LogThrottle(LOUD_REJECTIONS_PER_MINUTE, 60_000);

    // A problem that stops every push (no store, no app, bad app settings) keeps its red status:
    // the counters must not paint over it after the first rejected push.
    // Begun by a push the store could not take (busy, locked by another process, disk full), ended by the
    // next one it could (or a duplicate); logged once each way, not once per refused push.
    const storeSpell = new StoreSpell({
      failing: (reason) => node.warn(t('errors.store-failing', { message: String(reason) })),
      recovered: () => node.log(t('log.store-recovered')),
    });
    const problem = (): { text: string; warning?: string } | undefined => {
      const outage = storeOutage(lease);
      if (outage) return { text: `dingtalk-event-in.status.${outage}` };
      if (!lease && rebuild) return { text: 'dingtalk-event-in.status.store-rebuild' };
      if (!lease || storeSpell.failing) return { text: 'dingtalk-event-in.status.store-error' };
      if (!app) return { text: 'dingtalk-event-in.status.no-app', warning: t('errors.no-app') };
      const crypto = app.callbackCrypto();
      if (!crypto.ok) {
        return {
          text: 'dingtalk-event-in.status.app-invalid',
          warning: t('errors.app-invalid', { reason: app.explain(crypto.problem) }),
        };
      }
      return undefined;
    };
    // The path and the counters, at most every STATUS_INTERVAL_MS under load.
    const status = new RateLimitedCall(() => {
      const blocking = problem();
      if (blocking) {
        painter.show('red', 'ring', tx(blocking.text));
        return;
      }
      const fill = counts.rejected > 0 && counts.received === 0 ? 'yellow' : 'green';
      const text = tx(counts.poison > 0 ? 'dingtalk-event-in.status.counts-poison' : 'dingtalk-event-in.status.counts', { path, ...counts });
      if (behindAdminParser) painter.show('yellow', 'ring', tx('dingtalk-event-in.status.shared-root', { text }));
      else painter.show(fill, 'dot', text);
    }, STATUS_INTERVAL_MS);
    const showProblem = () => {
      const warning = problem()?.warning;
      if (warning) node.warn(warning);
      status.runNow();
    };

    // Rejections come from outside and can be many: the first few per minute warn, the rest go to debug.
    const logLoudly = (line: string) => {
      const { allowed, suppressedBefore } = throttle.take();
      if (suppressedBefore > 0) node.warn(t('errors.throttled', { count: suppressedBefore }));
      if (allowed) node.warn(line);
      else node.debug(line);
    };
    const logRejection = (outcome: Extract<Outcome, { kind: 'rejected' }>) => {
      let reason = outcome.reason;
      if (outcome.code === 'not-configured') {
        reason = !app ? t('errors.no-app') : outcome.problem ? app.explain(outcome.problem) : reason;
      } else if (outcome.code === 'receive-id-mismatch' && outcome.found !== undefined) {
        reason = t('errors.receive-id-hint', { found: escapeForLog(outcome.found), expected: app?.receiveId ?? '' });
      } else if (outcome.code === 'bad-timestamp' && outcome.age) {
        const { problem: why, ageMs = 0, maxAgeMs, maxAheadMs } = outcome.age;
        const seconds = (ms: number) => Math.round(Math.abs(ms) / 1000);
        reason = t(`errors.timestamp-${why}`, { age: seconds(ageMs), max: seconds(maxAgeMs), ahead: seconds(maxAheadMs) });
      } else if (outcome.code === 'body-timeout') {
        reason = t('errors.body-timeout', { seconds: bodyTimeoutMs / 1000 });
      }
      const line = t('errors.rejected', { status: outcome.status, code: outcome.code, reason });
      // The store's failing spell has its own warning (once): each push it refuses is a debug line.
      if (outcome.code === 'store-unavailable' && lease) return void node.debug(line);
      logLoudly(line);
    };

    const respond = (res: ServerResponse, outcome: Outcome, source: string) => {
      switch (outcome.kind) {
        case 'rejected':
          count.rejected(outcome.code, { status: outcome.status, reason: outcome.reason });
          if (outcome.code === 'store-unavailable' && lease) storeSpell.failed(outcome.reason);
          // A body we stopped reading is still arriving: close the connection after the answer.
          sendJson(res, outcome.status, { error: outcome.code, message: outcome.reason }, outcome.code === 'too-large' || outcome.code === 'body-timeout');
          logRejection(outcome);
          break;
        case 'check':
          sendJson(res, 200, outcome.reply);
          node.log(t('log.check', { eventType: escapeForLog(outcome.eventType, 100) }));
          break;
        case 'duplicate':
          storeSpell.worked();
          count.duplicate(source);
          sendJson(res, 200, outcome.reply);
          break;
        case 'event':
          storeSpell.worked();
          count.received(outcome.event.dingtalk?.source ?? source);
          // Answer first: DingTalk's deadline must not depend on the flow (protocol §9.1).
          sendJson(res, 200, outcome.reply);
          handoff.emit(node.id, outcome.event);
          break;
        case 'poison':
          // Authentic but unprocessable: acknowledged so DingTalk stops retrying, never stored or
          // emitted, logged once and handed to catch nodes for inspection. Not a node failure.
          count.poison(source);
          sendJson(res, 200, outcome.reply);
          node.warn(t('errors.poison', poisonLogParams(outcome)));
          node.error(t('errors.poison-caught', { reason: outcome.reason }), poisonMessage(outcome) as unknown as NodeMessage);
          break;
      }
      status.request();
    };

    // The editor's "Send test event" pushes through this same handler, recognised by this key.
    const testKey = newTestKey();
    const handler: RouteHandler = (req: ExpressRequest, res) => {
      readBody(req, maxBody, { timeoutMs: bodyTimeoutMs })
        .then(async (body) => {
          if (body.kind === 'aborted') return; // the caller hung up: nothing to answer
          const source = isTestPush(req.headers, testKey) ? 'test' : 'http';
          respond(res, await receiver.handle({ method: req.method, query: queryOf(req), body, source }), source);
        })
        .catch((err: unknown) => {
          node.error(err instanceof Error ? err.message : String(err));
          sendJson(res, 500, { error: 'internal', message: 'internal error' });
        });
    };

    const table = routeTableFor(RED.httpNode);
    table.useNodeMiddleware(middlewareList(settings.httpNodeMiddleware));
    let listening = false;
    const takeOver = () => {
      listening = true;
      showProblem();
    };
    const showConflict = (holder: string) => {
      painter.show('red', 'ring', tx('dingtalk-event-in.status.duplicate-path', { path, holder }));
    };
    (node as Node & { testTarget?: TestTarget }).testTarget = {
      listeningPath: () => (listening ? path : undefined),
      secrets: () => {
        if (!app) return { ok: false, reason: tx('dingtalk-event-in.errors.no-app') };
        const crypto = app.callbackCrypto();
        if (!crypto.ok) return { ok: false, reason: tx(appText(crypto.problem.key), crypto.problem.params) };
        const { token = '', aesKey = '' } = app.callbackSecrets();
        return { ok: true, token, aesKey, receiveId: crypto.value.acceptedIds[0] };
      },
      corpId: app?.corpId ?? '',
      key: testKey,
    };
    const claim = table.claim(path, {
      id: node.id,
      label: node.name || node.id,
      handler,
      onActive: takeOver,
      onWaiting: showConflict,
      onMiddlewareError: (err, _req, res) => {
        // As core `http in` answers a failed httpNodeMiddleware: a status, a log line, no stack trace.
        const code = errorStatus(err);
        count.rejected('middleware', { status: code });
        sendJson(res, code, { error: 'middleware', message: STATUS_CODES[code] ?? 'error' });
        logLoudly(t('errors.middleware', { status: code, message: escapeForLog(err instanceof Error ? err.message : String(err)) }));
        status.request();
      },
    });
    let cancelConflictReport: (() => void) | undefined;
    if (claim.owner) {
      takeOver();
    } else {
      // Stay inactive but waiting: if the node holding the path is deleted, this one takes over.
      showConflict(claim.holder);
      const reportConflict = () => {
        if (!listening) node.error(t('errors.duplicate-path', { path, holder: table.holderOf(path) ?? claim.holder }));
      };
      // Behind a reservation, wait for the deploy to settle it (after the table's own settle, registered
      // earlier): a deleted receiver's path, or two receivers swapping paths, is no conflict.
      if (claim.reserved) cancelConflictReport = afterNextStart(RED, reportConflict);
      else reportConflict();
    }

    // Every event goes out through the runtime's hand-off tracker: it counts as handed on once every
    // message derived from it has finished in the flow, and is emitted again (redelivered) when one was
    // lost (a deploy replaced a node holding it, a restart); dispatch outboxes make that idempotent.
    let closed = false;
    const handoff = handoffTracker(RED);
    const handoffReceiver: HandoffReceiver = {
      store: () => lease?.store,
      emit: (message, stamp) => {
        node.send(stamp(message) as unknown as NodeMessage);
        return true;
      },
      reemitted: (count) => node.log(t('log.redelivered', { count })),
    };
    handoff.register(node.id, handoffReceiver);
    // Recovery of missed pushes: at start-up and every recoverInterval minutes, the failed-events list
    // is read page by page through the same durable intake (so live duplicates are not emitted twice).
    let recovering = false;
    const recover = () => {
      const client = app?.api();
      if (closed || recovering || !lease) return;
      if (!client) {
        node.warn(t('errors.recover', { message: t('errors.no-api') }));
        return;
      }
      recovering = true;
      recoverMissedEvents(client, intakeFrom('recovery'), (message) => handoff.emit(node.id, message))
        .then(({ recovered }) => {
          if (recovered > 0) node.log(t('log.recovered', { count: recovered }));
        })
        // DingTalk's API error texts are outside input too.
        .catch((err: Error & { code?: string }) => node.warn(t('errors.recover', { message: escapeForLog(`${err.code ? `${err.code}: ` : ''}${err.message}`, 300) })))
        .finally(() => {
          recovering = false;
        });
    };
    // At most 1440 minutes, as the dialog allows, also for flows that did not come through it: beyond
    // 2^31 ms a timer would fire every millisecond.
    const recoverEveryMs = Math.min(1440, positive(Number(def.recoverInterval), 5)) * 60_000;
    const recoveryTimer = def.recover === true ? setInterval(recover, recoverEveryMs) : undefined;
    recoveryTimer?.unref();
    // The first recovery once the flows run, through the runtime's one flows:started listener.
    const cancelStartRecovery = def.recover === true ? afterNextStart(RED, recover) : undefined;

    node.on('close', (removed: boolean, done: () => void) => {
      closed = true;
      listening = false;
      cancelStartRecovery?.();
      cancelConflictReport?.();
      handoff.unregister(node.id, handoffReceiver);
      if (recoveryTimer) clearInterval(recoveryTimer);
      // A redeploy (not a deletion) keeps the path for this node id until the deploy has started the
      // flows, so the new instance gets it back rather than a receiver waiting on the same path.
      if (table.release(path, handler, { reserve: !removed })) settleAfterDeploy(RED, table);
      status.cancel();
      alerts.close();
      unwatch?.();
      lease?.release();
      done();
    });
  }

  registerTestRoutes(RED);
  hubMetrics(RED); // the metrics route, once per runtime
  registerType(RED, 'dingtalk-event-in', DingTalkEventIn, {
    settings: {
      dingtalkEventInMaxBody: { value: DEFAULTS.maxBody, exportable: true },
      dingtalkEventInDedupSeconds: { value: DEFAULTS.dedupSeconds, exportable: true },
      // Default: the de-duplication window less the clock allowance (core/push-age freshnessFor).
      dingtalkEventInMaxAgeSeconds: { value: undefined, exportable: false },
      dingtalkEventInBodyTimeoutSeconds: { value: DEFAULTS.bodyTimeoutSeconds, exportable: false },
      dingtalkEventInHandoffSeconds: { value: DEFAULT_HANDOFF_SECONDS, exportable: true },
      // The editor is told httpNodeRoot "/" even when it is false; this lets the dialog warn.
      dingtalkEventInHttpDisabled: { value: settings.httpNodeRoot === false, exportable: true },
    },
  });
}
