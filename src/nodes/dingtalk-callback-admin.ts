/**
 * `dingtalk-callback-admin`: the old callback registration API (get, register, update, delete) and a
 * read of the failed-events list, for apps using the register_call_back style.
 */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import { CALLBACK_ACTIONS, type CallbackAction, deleteCallback, getCallback, readFailedEvents, registerCallback } from '../core/openapi/callbacks';
import { CATALOGUE } from '../core/event-catalogue';
import type { DingTalkAppNode } from './dingtalk-app';
import { apiError } from './openapi-errors';
import { statusPainter, text as tx } from './editor-text';
import { registerType } from './register-type';

interface AdminDef extends NodeDef {
  app?: string;
  action?: string;
  url?: string;
  tags?: unknown;
}

type Msg = NodeMessage & { action?: unknown; pages?: number };
type Send = (msg: NodeMessage) => void;
type Done = (err?: Error) => void;

/** Every business event of the catalogue: what "no tags chosen" subscribes to. */
export const DEFAULT_TAGS = CATALOGUE.filter((e) => e.group !== 'isv' && e.group !== 'system').map((e) => e.type);

const stringList = (value: unknown): string[] | undefined =>
  Array.isArray(value) ? value.filter((x): x is string => typeof x === 'string' && x.trim() !== '').map((x) => x.trim())
    : typeof value === 'string' && value.trim() ? value.split(/[\s,]+/).filter(Boolean) : undefined;

export default function register(RED: NodeAPI): void {
  // The dingtalk-app dialog's "register / check callback" button: get, register or update for a
  // deployed app, with the app's own token and aesKey (which never travel to the browser).
  RED.httpAdmin.post('/dingtalk-app/:id/callback', RED.auth.needsPermission('dingtalk-app.write'), (req, res) => {
    const app = RED.nodes.getNode(req.params.id) as DingTalkAppNode | null;
    const body = (req.body ?? {}) as { action?: unknown; url?: unknown; tags?: unknown };
    const action = String(body.action ?? 'get');
    const client = app?.type === 'dingtalk-app' ? app.api() : undefined;
    if (!client) return void res.status(404).json({ error: 'no-app', message: RED._('dingtalk-callback-admin.errors.no-app') });
    let work: Promise<unknown>;
    if (action === 'get') work = getCallback(client);
    else if (action === 'register' || action === 'update') {
      const { token, aesKey } = app?.callbackSecrets() ?? {};
      if (typeof body.url !== 'string' || !/^https?:\/\//.test(body.url)) return void res.status(400).json({ error: 'no-url', message: RED._('dingtalk-callback-admin.errors.no-url') });
      if (!token || !aesKey) return void res.status(400).json({ error: 'no-app', message: RED._('dingtalk-callback-admin.errors.no-app') });
      const tags = stringList(body.tags) ?? [];
      work = registerCallback(client, { url: body.url, tags: tags.length ? tags : DEFAULT_TAGS, token, aesKey }, action === 'update');
    } else return void res.status(400).json({ error: 'action', params: { action }, message: RED._('dingtalk-callback-admin.errors.action', { action }) });
    work.then(
      (result) => res.json(result),
      (err: { code?: string; message?: string }) => res.status(502).json({ error: err.code ?? 'error', message: err.message ?? String(err) }),
    );
  });

  function DingTalkCallbackAdmin(this: Node, def: AdminDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const t = (key: string, params: Record<string, string> = {}) => RED._(`dingtalk-callback-admin.${key}`, params);
    const app = (def.app ? RED.nodes.getNode(def.app) : null) as DingTalkAppNode | null;

    const painter = statusPainter(RED, node);
    node.on('input', (msg: Msg, send: Send, done: Done) => {
      const action = String(msg.action ?? def.action ?? 'get') as CallbackAction;
      if (!CALLBACK_ACTIONS.includes(action)) return void done(new Error(t('errors.action', { action })));
      const client = app?.api();
      if (!client) return void done(new Error(t('errors.no-app')));
      const input = (msg.payload && typeof msg.payload === 'object' ? msg.payload : {}) as { url?: unknown; tags?: unknown };

      let work: Promise<unknown>;
      if (action === 'get') work = getCallback(client);
      else if (action === 'delete') work = deleteCallback(client);
      else if (action === 'failed') {
        const entries: unknown[] = [];
        work = readFailedEvents(client, async (page) => {
          entries.push(...page);
        }).then((pages) => {
          msg.pages = pages;
          return entries;
        });
      } else {
        const url = typeof input.url === 'string' && input.url ? input.url : def.url;
        if (!url) return void done(new Error(t('errors.no-url')));
        const { token, aesKey } = app?.callbackSecrets() ?? {};
        if (!token || !aesKey) return void done(new Error(t('errors.no-app')));
        const tags = stringList(input.tags) ?? stringList(def.tags) ?? [];
        work = registerCallback(client, { url, tags: tags.length ? tags : DEFAULT_TAGS, token, aesKey }, action === 'update');
      }
      work.then((result) => {
        msg.payload = result;
        painter.show('green', 'dot', tx('dingtalk-callback-admin.status.ok', { action: tx(`dingtalk-callback-admin.action.${action}`) }));
        send(msg);
        done();
      }, (err: unknown) => {
        const error = apiError(err, (code, message) => t('errors.api', { code, message }));
        painter.show('red', 'ring', tx('dingtalk-callback-admin.status.error', { code: String((error as { code?: string }).code ?? '') }));
        done(error);
      });
    });
  }

  registerType(RED, 'dingtalk-callback-admin', DingTalkCallbackAdmin);
}
