/**
 * `dingtalk-stream-in`: DingTalk Stream mode, for hosts without a public URL. Every node of one app
 * shares the app's connection (core/stream/hub); events come out in the same shape as from
 * dingtalk-event-in, with source "stream", once each.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { escapeForLog } from '../core/log-escape';
import { poisonLogParams, poisonMessage } from '../core/poison';
import type { StreamState } from '../core/stream/client';
import type { FrameVerdict, StreamListener } from '../core/stream/hub';
import { sampleStreamFrame, sampleStreamTypes } from '../core/stream/sample-frame';
import type { DingTalkAppNode } from './dingtalk-app';
import { statusPainter, text as tx, type Text } from './editor-text';
import { registerType } from './register-type';
import type { StoreLease } from '../core/store/shared-store';
import { StoreSettingError } from '../core/store/store-settings';
import { openStore, storeFailureAdvice } from './store-location';
import { storeOutage } from './store-outage';
import { ReceiverTally } from '../core/counters/tallies';
import { RateLimitedCall } from '../core/rate-limited-call';
import { streamReceiverKey } from './deployed-nodes';

interface StreamInDef extends NodeDef {
  app?: string;
}

interface StreamInNode extends Node {
  /** The editor's "send test event": a sample frame through the app's hub, as if DingTalk had sent it. */
  testEvent?(type: string): Promise<FrameVerdict>;
}

export const DEFAULT_TEST_TYPE = 'bpms_instance_change';
const STATUS_INTERVAL_MS = 250;

const hhmm = (ms: number) => new Date(ms).toTimeString().slice(0, 5);

/** Why the connection is retried, in the editor's language: the client's reason code and its facts. */
const reconnectReason = (s: Extract<StreamState, { state: 'reconnecting' }>): string | Text =>
  s.reason ? tx(`dingtalk-stream-in.reconnect.${s.reason.code}`, s.reason.params) : (s.error ?? '');

export default function register(RED: NodeAPI): void {
  const streamTypes = new Set(sampleStreamTypes());

  // Answers {error, params} that the editor renders as dingtalk-stream-in.test.errors.<error>.
  RED.httpAdmin.post('/dingtalk-stream-in/:id/test', RED.auth.needsPermission('dingtalk-stream-in.write'), (req, res) => {
    const node = RED.nodes.getNode(req.params.id) as StreamInNode | null;
    if (!node || node.type !== 'dingtalk-stream-in') return void res.status(404).json({ error: 'not-deployed' });
    if (!node.testEvent) return void res.status(409).json({ error: 'no-app' });
    const type = typeof req.body?.type === 'string' && req.body.type !== '' ? req.body.type : DEFAULT_TEST_TYPE;
    if (!streamTypes.has(type)) return void res.status(400).json({ error: 'unknown-type', params: { type } });
    node.testEvent(type).then(
      (verdict) => res.json({ eventType: type, verdict }),
      // The store's own words are in the node's log (it reports a failing store once per spell).
      () => res.status(503).json({ error: 'store' }),
    );
  });

  function DingTalkStreamIn(this: StreamInNode, def: StreamInDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = (key: string, params: Record<string, string | number> = {}) => RED._(`dingtalk-stream-in.${key}`, params);
    const app = (def.app ? RED.nodes.getNode(def.app) : null) as DingTalkAppNode | null;
    const hub = app?.streamHub();
    const painter = statusPainter(RED, node);
    if (!hub) {
      painter.show('red', 'ring', tx('dingtalk-stream-in.status.no-app'));
      node.warn(t('errors.no-app'));
      return;
    }
    // The connection's state, unless the store is failing: then every event is answered LATER, which
    // a green "connected" would hide. One warning per failing spell, not one per event.
    let connection: StreamState = { state: 'stopped' };
    let storeFailing = false;
    // Held for the store's health only (the app's hub stores the events): red while its server is down.
    let lease: StoreLease | undefined;
    try {
      lease = openStore(RED, node, () => {
        if (!storeOutage(lease) && storeFailing) listener.onStore?.(undefined); // the server back ends the spell
        showStatus();
      });
    } catch (err) {
      // A wrong dingtalkStore stays wrong until a restart: said at once. A file that cannot be opened yet
      // is said by the first event the hub cannot store (the folder may become usable meanwhile).
      if (err instanceof StoreSettingError) {
        storeFailing = true;
        node.error(t('errors.store', { message: storeFailureAdvice(RED, err) }));
      }
    }
    // The app's Stream counts (its hub counts them in the store under the app's Stream receiver key):
    // read here, as dingtalk-event-in shows its own, and kept across deploys and restarts.
    // Shown while connected; a connection being made or retried shows its state and reason alone.
    const tally = lease && new ReceiverTally(lease.counters, streamReceiverKey(app?.id ?? ''), app?.appKey ?? '');
    const connected = (since: number): Text => {
      if (!tally) return tx('dingtalk-stream-in.status.connected', { since: hhmm(since) });
      const { received, duplicates } = tally.counts();
      return tx('dingtalk-stream-in.status.connected-counts', { since: hhmm(since), received, duplicates });
    };
    const showStatus = () => {
      const s = connection;
      const outage = storeOutage(lease);
      if (outage) painter.show('red', 'ring', tx(`dingtalk-stream-in.status.${outage}`));
      else if (storeFailing) painter.show('red', 'ring', tx('dingtalk-stream-in.status.store-error'));
      else if (s.state === 'connected') painter.show('green', 'dot', connected(s.since));
      else if (s.state === 'reconnecting') {
        painter.show('yellow', 'ring', tx('dingtalk-stream-in.status.reconnecting', { seconds: Math.ceil(s.inMs / 1000), error: reconnectReason(s) }));
      } else if (s.state === 'connecting') painter.show('yellow', 'dot', tx('dingtalk-stream-in.status.connecting'));
    };
    // After each stored frame (the hub counts it right after telling the listeners), at most every
    // STATUS_INTERVAL_MS under load; and when the store's counts are read again (its first read, other instances).
    const countsChanged = new RateLimitedCall(showStatus, STATUS_INTERVAL_MS);
    const unwatch = lease?.counters.watch(() => countsChanged.request());
    const listener: StreamListener = {
      onEvent: (message) => node.send(message as unknown as NodeMessage),
      onState: (s) => {
        connection = s;
        showStatus();
      },
      onBadFrame: (messageId) => node.warn(t('errors.bad-frame', { messageId: escapeForLog(messageId, 100) })),
      // Acknowledged and not stored (core/poison): one log line, and the data for catch nodes.
      onPoison: (poison) => {
        node.warn(t('errors.poison', poisonLogParams(poison)));
        node.error(t('errors.poison-caught', { reason: poison.reason }), poisonMessage(poison) as unknown as NodeMessage);
      },
      onStore: (error) => {
        if (error === undefined) countsChanged.request(); // stored: a new event or a duplicate
        if ((error !== undefined) === storeFailing) return;
        storeFailing = error !== undefined;
        if (storeFailing) node.warn(t('errors.store', { message: storeFailureAdvice(RED, error) }));
        else node.log(t('log.store-recovered'));
        showStatus();
      },
    };
    hub.add(listener);
    node.testEvent = (type) => hub.test(sampleStreamFrame(type, { corpId: app?.corpId || undefined }));
    node.on('close', (_removed: boolean, done: () => void) => {
      countsChanged.cancel();
      unwatch?.();
      lease?.release();
      void hub.remove(listener).finally(() => done());
    });
  }

  registerType(RED, 'dingtalk-stream-in', DingTalkStreamIn);
}
