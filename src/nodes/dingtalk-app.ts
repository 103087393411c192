/**
 * `dingtalk-app` config node: one DingTalk app's identity and secrets. Receivers ask it for the
 * callback crypto; the secrets stay in Node-RED credentials (never in flows or exports).
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { type AppSettings, callbackCryptoFor, type CallbackCrypto, normaliseStyle, type Problem, receiveIdFor } from '../core/app-config';
import { tokenIsConsoleCompatible } from '../core/cipher';
import { OpenApiClient } from '../core/openapi/client';
import { StreamHub } from '../core/stream/hub';
import { HANDOFF_CHECK_MS, pendingRedeliveries, settleHandoffs } from '../core/store/handoff';
import { acquireStore, type StoreLease } from '../core/store/shared-store';
import { storeFileLog, storePath } from './store-location';
import { scopeContentKey } from '../core/events';
import { registerType } from './register-type';

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

    // Stream mode: one connection for the app; its events go through the shared durable inbox.
    // Like dingtalk-event-in: events acknowledged before a restart that may not have reached every
    // dispatch node yet are handed out again once the flows run; older ones count as handed on.
    let hub: StreamHub | undefined;
    let lease: StoreLease | undefined;
    const receiver = `stream:${this.id}`;
    const store = () => (lease ??= acquireStore(storePath(RED), storeFileLog(RED, this))).store;
    this.streamHub = () => {
      if (!hub && this.appKey && creds.appSecret) {
        hub = new StreamHub({ clientId: this.appKey, clientSecret: creds.appSecret, apiUrl: urls.dingtalkAppApiUrl },
          (eventId, message, key) => store().accept(eventId, receiver, message, scopeContentKey(this.id, key)));
      }
      return hub;
    };
    // Rows count as handed on only after the first redelivery has read them: a slow start must not
    // let the housekeeping settle them first.
    let handedOut = false;
    const redeliver = () => {
      if (!hub || hub.size === 0) return;
      handedOut = true;
      try {
        hub.redeliver(pendingRedeliveries(store(), receiver));
      } catch (err) {
        this.warn((err as Error).message);
      }
    };
    // After every deploy: the first time, what was pending before the start; each time, what arrived
    // while a deploy had replaced the stream-in nodes.
    const onFlowsStarted = () => {
      if (!handedOut) redeliver();
      hub?.flushHeld();
    };
    RED.events.on('flows:started', onFlowsStarted);
    const handed = setInterval(() => {
      if (lease && handedOut) settleHandoffs(lease.store, receiver);
    }, HANDOFF_CHECK_MS);
    handed.unref();
    this.on('close', (_removed: boolean, done: () => void) => {
      RED.events.removeListener('flows:started', onFlowsStarted);
      clearInterval(handed);
      lease?.release();
      lease = undefined;
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
