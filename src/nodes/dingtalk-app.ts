/**
 * `dingtalk-app` config node: one DingTalk app's identity and secrets. Receivers ask it for the
 * callback crypto; the secrets stay in Node-RED credentials (never in flows or exports).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { type AppSettings, callbackCryptoFor, type CallbackCrypto, normaliseStyle, type Problem, receiveIdFor } from '../core/app-config';
import { tokenIsConsoleCompatible } from '../core/cipher';
import { OpenApiClient } from '../core/openapi/client';
import { StreamHub } from '../core/stream/hub';
import type { HandoffReceiver } from '../core/handoff/tracker';
import { handoffTracker } from './handoff-hooks';
import type { StoreLease } from '../core/store/shared-store';
import { streamReceiverKey } from './deployed-nodes';
import { nodeText } from './app-texts';
import { openStore } from './store-location';
import { scopeContentKey } from '../core/events';
import { registerType } from './register-type';
import { ReceiverTally } from '../core/counters/tallies';
import { hubMetrics } from './hub-metrics';
import { registerEventCenterRoutes } from './event-center-routes';

interface AppDef extends NodeDef {
  appKey?: string;
  corpId?: string;
  callbackStyle?: string;
}

export interface AppCredentials {
  appSecret?: string;
  token?: string;
  aesKey?: string;
}

export type CryptoResult = { ok: true; value: CallbackCrypto } | { ok: false; problem: Problem };

export interface DingTalkAppNode extends Node<AppCredentials> {
  appKey: string;
  corpId: string;
  callbackStyle: string;
  /** The receive id pushes must carry for this app (appKey, corpId or suiteKey). */
  receiveId: string;
  callbackCrypto(): CryptoResult;
  /** A configuration problem in the runtime's language, for other nodes' logs and statuses. */
  explain(problem: Problem): string;
  /** The app's OpenAPI client with its cached token; undefined without AppKey and AppSecret. */
  api(): OpenApiClient | undefined;
  /** The callback token and aesKey, for registering the callback (never sent anywhere else). */
  callbackSecrets(): { token?: string; aesKey?: string };
  /** The app's one Stream-mode connection, shared by its stream-in nodes; undefined without AppKey and AppSecret. */
  streamHub(): StreamHub | undefined;
}

export default function register(RED: NodeAPI): void {
  hubMetrics(RED); // the metrics route, once per runtime
  registerEventCenterRoutes(RED); // the event center's routes, once per runtime (also from the plugin)
  function DingTalkApp(this: DingTalkAppNode, def: AppDef): void {
    RED.nodes.createNode(this, def);
    const creds = this.credentials ?? {};
    const settings: AppSettings = {
      appKey: (def.appKey ?? '').trim(),
      corpId: (def.corpId ?? '').trim(),
      callbackStyle: normaliseStyle(def.callbackStyle),
      token: creds.token,
      aesKey: creds.aesKey,
    };
    this.appKey = settings.appKey ?? '';
    this.corpId = settings.corpId ?? '';
    this.callbackStyle = settings.callbackStyle ?? 'event-subscription';
    this.receiveId = receiveIdFor(settings).receiveId;

    // Credentials only change on redeploy, which re-creates this node: derive the cipher once.
    const crypto: CryptoResult = callbackCryptoFor(settings);
    this.callbackCrypto = () => crypto;
    this.explain = (problem) => RED._(`dingtalk-app.${problem.key}`, problem.params ?? {});

    if (settings.token && !tokenIsConsoleCompatible(settings.token)) this.warn(RED._('dingtalk-app.warnings.token-console'));

    // One client per app: every node using this app shares its token cache and its IP-block pause.
    const urls = RED.settings as unknown as { dingtalkAppOapiUrl?: string; dingtalkAppApiUrl?: string };
    let client: OpenApiClient | undefined;
    this.api = () => {
      if (!client && this.appKey && creds.appSecret) {
        client = new OpenApiClient({ appKey: this.appKey, appSecret: creds.appSecret, oapiUrl: urls.dingtalkAppOapiUrl, apiUrl: urls.dingtalkAppApiUrl });
      }
      return client;
    };
    this.callbackSecrets = () => ({ token: creds.token, aesKey: creds.aesKey });

    // Stream mode: one connection for the app; its events go through the shared durable inbox (scoped to
    // this app) and reach the stream-in nodes through the runtime's hand-off tracker, which emits again
    // whatever did not finish in the flow (after a deploy that replaced a node in its path, a restart).
    let hub: StreamHub | undefined;
    let lease: StoreLease | undefined;
    const receiver = streamReceiverKey(this.id);
    const store = () => (lease ??= openStore(RED, this)).store;
    const handoff = handoffTracker(RED);
    let streamTally: ReceiverTally | undefined;
    const streamReceiver: HandoffReceiver = {
      store: () => {
        try {
          return hub ? store() : lease?.store;
        } catch {
          return undefined; // no store: the stream-in nodes say so (their events are answered LATER)
        }
      },
      emit: (message, stamp) => (hub ? hub.send(message, stamp) : false),
      reemitted: (count) => this.log(RED._(nodeText('dingtalk-event-in', 'log.redelivered'), { count })),
    };
    handoff.register(receiver, streamReceiver);
    this.streamHub = () => {
      if (!hub && this.appKey && creds.appSecret) {
        hub = new StreamHub(
          { clientId: this.appKey, clientSecret: creds.appSecret, apiUrl: urls.dingtalkAppApiUrl },
          (eventId, message, key) => store().accept(eventId, receiver, message, scopeContentKey(this.id, key), this.id),
          (message) => handoff.emit(receiver, message),
          (outcome, source) => {
            // Counted in the store (count-batcher.ts): the metrics and the event center survive deploys.
            streamTally ??= lease && new ReceiverTally(lease.counters, receiver, this.appKey);
            // By source: a frame from DingTalk ('stream'), or the editor's "send test event" ('test').
            if (outcome === 'new') streamTally?.received(source);
            else if (outcome === 'duplicate') streamTally?.duplicate(source);
            else streamTally?.poison(source);
          },
        );
      }
      return hub;
    };
    this.on('close', (_removed: boolean, done: () => void) => {
      handoff.unregister(receiver, streamReceiver);
      lease?.release();
      lease = undefined;
      streamTally = undefined;
      done();
    });
  }

  registerType(RED, 'dingtalk-app', DingTalkApp, {
    credentials: {
      appSecret: { type: 'password' },
      token: { type: 'password' },
      aesKey: { type: 'password' },
    },
    settings: {
      dingtalkAppOapiUrl: { value: 'https://oapi.dingtalk.com', exportable: true },
      dingtalkAppApiUrl: { value: 'https://api.dingtalk.com', exportable: true },
    },
  });
}
