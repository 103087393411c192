'use strict';
// Loads this package's nodes into node-red-node-test-helper, serving the helper's bare RED.httpNode
// on a real loopback port so tests talk real HTTP to it.
const http = require('node:http');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const eventInModule = require('../../nodes/dingtalk-event-in.js').default;
const { APP } = require('./push');

helper.init(require.resolve('node-red'));

// The helper's setFlows starts listening for 'flows:started' only once the deploy call has returned (Node-RED
// starts the flows after that, without waiting) and gives up after 300 ms: on a busy two-core CI machine the
// start takes longer and a redeploy test failed with "timeout waiting event". Listen before deploying and wait
// for the start itself (the test's own timeout still bounds it).
helper.setFlows = async function setFlows(flow, type, credentials) {
  const started = new Promise((resolve) => this._events.once('flows:started', resolve));
  await this._redNodes.setFlows(flow, credentials || {}, typeof type === 'string' ? type : 'full');
  await started;
};
const { hooks } = require('./hooks');

// The helper's RED._ returns the key; render parameters too, so status texts show their counts.
const renderKey = (key, params) => (params && Object.keys(params).length ? `${key} ${JSON.stringify(params)}` : key);

const state = { httpNode: null, httpAdmin: null, server: null, base: null, held: [] };

/**
 * 'dingtalk-test-hold': a node that takes `done` and calls it only when the test says so
 * (state.held[i].done()), like a slow node in a real flow; its messages are in state.held.
 */
function holdModule(RED) {
  RED.nodes.registerType('dingtalk-test-hold', function Hold(def) {
    RED.nodes.createNode(this, def);
    this.on('input', (msg, send, done) => state.held.push({ msg, done }));
  });
}

const path = require('node:path');
const { tempDir } = require('./temp');

/**
 * A fresh embedded store per load, so events of one test are never duplicates in the next. Its
 * folder is removed after the test (or at exit), see test/support/temp.js.
 */
function freshStore() {
  const dir = tempDir('dingtalk-test-store-');
  helper.settings({ ...helper.settings(), dingtalkStorePath: path.join(dir, 'hub.sqlite') });
  return dir;
}

/**
 * Loads a flow and serves it. withAdmin: serve the admin routes on the same server, in front of the
 * node routes, as Node-RED does with its default settings (so the admin body parser runs first).
 * nodes: more node modules to register (e.g. Node-RED's own catch node).
 */
async function load(flow, credentials, { keepStore = false, withAdmin = false, nodes = [] } = {}) {
  if (!keepStore) freshStore();
  state.held = [];
  await helper.load(
    [
      // The helper's RED has no hooks (Node-RED's has since 2.0): give it the runtime's own.
      (RED) => { RED._ = renderKey; RED.hooks = hooks; return appModule(RED); },
      (RED) => { state.httpNode = RED.httpNode; state.httpAdmin = RED.httpAdmin; return eventInModule(RED); },
      holdModule,
      ...nodes,
    ],
    flow,
    credentials,
  );
  await serve({ withAdmin });
}

async function serve({ withAdmin = false } = {}) {
  if (state.server) await new Promise((r) => state.server.close(r));
  const handler = withAdmin ? (req, res) => state.httpAdmin(req, res, () => state.httpNode(req, res)) : state.httpNode;
  state.server = http.createServer(handler);
  state.server.keepAliveTimeout = 1000;
  await new Promise((r) => state.server.listen(0, '127.0.0.1', r));
  state.base = `http://127.0.0.1:${state.server.address().port}`;
}

async function unload() {
  if (state.server) {
    state.server.closeAllConnections();
    await new Promise((r) => state.server.close(r));
    state.server = null;
  }
  await helper.unload();
}

/** POST (or another method) to the served httpNode; resolves { status, headers, json, text }. */
async function request(path, { method = 'POST', body, headers = {} } = {}) {
  const res = await fetch(state.base + path, {
    method,
    body,
    headers: body !== undefined ? { 'content-type': 'application/json', ...headers } : headers,
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}

/** A standard flow: one app config node, one receiver, one helper node collecting output. */
function standardFlow({ path = '/dingtalk/events', app = {}, extra = [] } = {}) {
  return [
    { id: 'app', type: 'dingtalk-app', name: 'test app', appKey: APP.appKey, corpId: APP.corpId,
      callbackStyle: 'event-subscription', ...app },
    { id: 'in', type: 'dingtalk-event-in', app: 'app', url: path, wires: [['out']] },
    { id: 'out', type: 'helper' },
    ...extra,
  ];
}
const standardCredentials = (over = {}) => ({ app: { token: APP.token, aesKey: APP.aesKey, appSecret: 'secret-x', ...over } });

/** Collects the messages a helper node receives. */
function collect(id = 'out') {
  const messages = [];
  // Takes done and calls it, like an ordinary end node (debug): the message has finished there.
  helper.getNode(id).on('input', (msg, send, done) => { messages.push(msg); done(); });
  return messages;
}

/** The calls of a prototype spy (warn, error, status, log…) made by one node. */
function callsOn(node, method) {
  return node[method].getCalls().filter((c) => c.thisValue === node).map((c) => c.args);
}

const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

module.exports = { holdModule, freshStore, helper, load, unload, request, standardFlow, standardCredentials, collect, callsOn, settle, state, serve };
