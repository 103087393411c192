/**
 * The editor's "Send test event" button on dingtalk-event-in. The runtime builds a sample event,
 * encrypts and signs it with the app's credentials exactly as DingTalk does, and POSTs it to the
 * node's own callback URL over real HTTP, so the push crosses httpNodeRoot, any httpNodeAuth or
 * middleware, the body reader, the crypto and the store like a real one. A per-node key in a header
 * (known only to this runtime) makes the node emit it with msg.dingtalk.source "test".
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { NodeAPI } from 'node-red';
import { catalogueForEditor } from '../core/events';
import { sampleEvent, sampleEventTypes } from '../core/sample-events';
import { sendPush } from '../core/sim/push-client';
import type { Text, TextParams } from './editor-text';

export const TEST_HEADER = 'x-dingtalk-hub-test';
export const DEFAULT_TEST_TYPE = 'bpms_instance_change';

/** What a deployed dingtalk-event-in offers the test route. */
export interface TestTarget {
  /** The path on httpNodeRoot; undefined while the node is not listening (path taken, HTTP disabled). */
  listeningPath(): string | undefined;
  /** The app's callback secrets and receive id, or why they cannot be used (a Text the editor translates). */
  secrets(): { ok: true; token: string; aesKey: string; receiveId: string } | { ok: false; reason: Text };
  corpId: string;
  key: string;
}

export const newTestKey = (): string => randomBytes(18).toString('base64url');

/** True when a request carries this node's test key. */
export function isTestPush(headers: Record<string, string | string[] | undefined>, key: string): boolean {
  return headers[TEST_HEADER] === key;
}

/** A failure the editor renders as dingtalk-event-in.test.errors.<error> with params, in its own language. */
type AdminError = { status: number; error: string; params?: TextParams };

/** The node's URL on the server socket the editor's request came in on (same server, same scheme). */
function selfUrl(socket: Socket & { encrypted?: boolean }, httpNodeRoot: string, path: string): string {
  const scheme = socket.encrypted ? 'https' : 'http';
  let host = socket.localAddress ?? '127.0.0.1';
  if (host.startsWith('::ffff:')) host = host.slice(7);
  if (host === '::' || host === '0.0.0.0') host = '127.0.0.1';
  if (host.includes(':')) host = `[${host}]`;
  return `${scheme}://${host}:${socket.localPort}${httpNodeRoot.replace(/\/+$/, '')}${path}`;
}

export function registerTestRoutes(RED: NodeAPI): void {
  const labels = catalogueForEditor();
  const types = new Set(sampleEventTypes());

  RED.httpAdmin.get('/dingtalk-event-in/sample-types', RED.auth.needsPermission('dingtalk-event-in.read'), (_req, res) => {
    res.json({ groups: labels.groups, types: labels.events.filter((e) => types.has(e.type)).map(({ type, group, label }) => ({ type, group, label })) });
  });

  RED.httpAdmin.post('/dingtalk-event-in/:id/test', RED.auth.needsPermission('dingtalk-event-in.write'), (req, res) => {
    const fail = ({ status, ...body }: AdminError) => void res.status(status).json(body);
    const node = RED.nodes.getNode(req.params.id) as (ReturnType<typeof RED.nodes.getNode> & { testTarget?: TestTarget }) | null;
    const target = node?.type === 'dingtalk-event-in' ? node.testTarget : undefined;
    if (!target) return fail({ status: 404, error: 'not-deployed' });
    const type = typeof req.body?.type === 'string' && req.body.type !== '' ? req.body.type : DEFAULT_TEST_TYPE;
    if (!types.has(type)) return fail({ status: 400, error: 'unknown-type', params: { type } });
    const path = target.listeningPath();
    if (path === undefined) return fail({ status: 409, error: 'inactive' });
    const secrets = target.secrets();
    if (!secrets.ok) return fail({ status: 409, error: 'app-invalid', params: { reason: secrets.reason } });

    const root = (RED.settings as unknown as { httpNodeRoot?: string }).httpNodeRoot || '/';
    const url = selfUrl(req.socket, root, path);
    const payload = sampleEvent(type, { corpId: target.corpId || undefined });
    sendPush({
      url,
      plaintext: JSON.stringify(payload),
      receiveId: secrets.receiveId,
      token: secrets.token,
      aesKey: secrets.aesKey,
      headers: { [TEST_HEADER]: target.key },
      // Our own server: the editor's https may well use a self-signed certificate.
      rejectUnauthorized: false,
    }).then(
      (result) => {
        // The receiver's own words about a rejection are in its log (runtime's language), not in the answer.
        if (result.status !== 200) return fail({ status: 502, error: 'rejected', params: { status: result.status, code: result.error?.error ?? '-' } });
        if (!result.verified) {
          node?.warn(RED._('dingtalk-event-in.test.log-unverified', { message: result.problem ?? '' }));
          return fail({ status: 502, error: 'unverified' });
        }
        res.json({ eventType: type, ms: result.ms });
      },
      (err: Error & { code?: string }) => fail({ status: 502, error: 'unreachable', params: { url, message: err.code ?? err.name } }),
    );
  });
}

