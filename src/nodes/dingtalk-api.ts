/**
 * `dingtalk-api`: calls any DingTalk OpenAPI with the app's cached token (core/openapi/client), or,
 * with the "enrich approval" preset, fetches an approval's instance and form values.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { approvalDetails } from '../core/openapi/approvals';
import type { ApiFamily } from '../core/openapi/client';
import type { DingTalkAppNode } from './dingtalk-app';
import { apiError } from './openapi-errors';
import { statusPainter, text as tx } from './editor-text';
import { registerType } from './register-type';

interface ApiDef extends NodeDef {
  app?: string;
  family?: string;
  method?: string;
  path?: string;
  preset?: string;
}

type Msg = NodeMessage & { method?: unknown; path?: unknown; family?: unknown; query?: unknown; approval?: unknown; formValues?: unknown };
type Send = (msg: NodeMessage) => void;
type Done = (err?: Error) => void;

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);

export default function register(RED: NodeAPI): void {
  function DingTalkApi(this: Node, def: ApiDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = (key: string, params: Record<string, string> = {}) => RED._(`dingtalk-api.${key}`, params);
    const app = (def.app ? RED.nodes.getNode(def.app) : null) as DingTalkAppNode | null;
    const painter = statusPainter(RED, node);
    const fail = (err: unknown, done: Done) => {
      const error = apiError(err, (code, message) => t('errors.api', { code, message }));
      painter.show('red', 'ring', tx('dingtalk-api.status.error', { code: String((error as { code?: string }).code ?? '') }));
      done(error);
    };
    if (!app?.api()) painter.show('red', 'ring', tx('dingtalk-api.status.no-app'));

    node.on('input', (msg: Msg, send: Send, done: Done) => {
      const client = app?.api();
      if (!client) return void done(new Error(t('errors.no-app')));
      painter.show('blue', 'dot', tx('dingtalk-api.status.calling'));

      if (def.preset === 'enrich-approval') {
        const payload = msg.payload as { processInstanceId?: unknown } | undefined;
        const id = typeof payload?.processInstanceId === 'string' ? payload.processInstanceId : undefined;
        if (!id) {
          painter.clear();
          return void done(new Error(t('errors.no-instance')));
        }
        approvalDetails(client, id).then((details) => {
          msg.approval = details.instance;
          msg.formValues = details.formValues;
          painter.show('green', 'dot', tx('dingtalk-api.status.ok'));
          send(msg);
          done();
        }, (err) => fail(err, done));
        return;
      }

      const family: ApiFamily = (msg.family ?? def.family) === 'oapi' ? 'oapi' : 'api';
      const method = String(msg.method ?? def.method ?? 'GET').toUpperCase();
      const path = typeof msg.path === 'string' && msg.path ? msg.path : def.path;
      if (!path) {
        painter.clear();
        return void done(new Error(t('errors.no-path')));
      }
      const query = msg.query && typeof msg.query === 'object' ? (msg.query as Record<string, unknown>) : undefined;
      const withBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
      client.call({ family, method: METHODS.has(method) ? method : 'GET', path, query, body: withBody ? (msg.payload ?? {}) : undefined }).then((result) => {
        msg.payload = result;
        painter.show('green', 'dot', tx('dingtalk-api.status.ok'));
        send(msg);
        done();
      }, (err) => fail(err, done));
    });
  }

  registerType(RED, 'dingtalk-api', DingTalkApi);
}
