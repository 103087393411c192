'use strict';
// Statuses in the editor's language: each status is also published on the comms topic
// dingtalk-hub/status/<id> as a message key with its parameters (counts, reasons), retained, for
// resources/dingtalk-editor.js to translate. The status text itself is rendered in the runtime's language
// (here the en-US catalogue, test/support/i18n) for status nodes and older editors.
require('should');
const http = require('node:http');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const eventInModule = require('../../nodes/dingtalk-event-in.js').default;
const dispatchModule = require('../../nodes/dingtalk-dispatch.js').default;
const streamModule = require('../../nodes/dingtalk-stream-in.js').default;
const { startFakeGateway } = require('../support/fake-gateway');
const { APP, makePush } = require('../support/push');
const { freshStore, standardCredentials, callsOn } = require('../support/runtime');
const { withHooks } = require('../support/hooks');
const { render } = require('../support/i18n');
const { waitFor } = require('../support/wait');

helper.init(require.resolve('node-red'));

const TOPIC = 'dingtalk-hub/status/';

describe('statuses published for the editor (key + parameters)', function () {
  let server;
  let base;
  let published;
  let sink;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(async () => {
    if (server) { server.closeAllConnections(); await new Promise((r) => server.close(r)); server = undefined; }
    if (sink) { sink.closeAllConnections(); await new Promise((r) => sink.close(r)); sink = undefined; }
    await helper.unload();
  });

  async function load() {
    freshStore();
    sink = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(req.url === '/fail' ? 500 : 200); res.end(); }); });
    await new Promise((r) => sink.listen(0, '127.0.0.1', r));
    const hook = `http://127.0.0.1:${sink.address().port}`;
    published = [];
    let httpNode;
    const flow = [
      { id: 'tab', type: 'tab' },
      { id: 'app', type: 'dingtalk-app', appKey: APP.appKey, callbackStyle: 'event-subscription' },
      { id: 'in', z: 'tab', type: 'dingtalk-event-in', app: 'app', url: '/dt', wires: [['ok', 'bad']] },
      { id: 'ok', z: 'tab', type: 'dingtalk-dispatch', url: `${hook}/ok`, wires: [[], []] },
      { id: 'bad', z: 'tab', type: 'dingtalk-dispatch', url: `${hook}/fail`, retrySchedule: '0', wires: [[], []] },
    ];
    await helper.load([
      withHooks((RED) => {
        RED._ = render;
        RED.events.on('comms', (m) => { if (m.topic.startsWith(TOPIC)) published.push(m); });
        return appModule(RED);
      }),
      (RED) => { httpNode = RED.httpNode; return eventInModule(RED); },
      dispatchModule,
    ], flow, standardCredentials());
    server = http.createServer(httpNode);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${server.address().port}`;
    return flow;
  }

  const last = (id) => published.filter((m) => m.topic === TOPIC + id).pop();
  const lastStatus = (id) => callsOn(helper.getNode(id), 'status').pop()?.[0];

  it('counts, in the runtime language on the node and as key + parameters for the editor, after pushes (one rejected) and deliveries (one failing)', async function () {
    await load();
    const p = makePush(JSON.stringify({ EventType: 'user_add_org', eventId: 'ev-1', CorpId: 'ding1', userId: ['u1'] }));
    (await fetch(`${base}/dt?${p.query}`, { method: 'POST', body: p.body })).status.should.equal(200);
    (await fetch(`${base}/dt?${p.query.replace(/msg_signature=[^&]+/, 'msg_signature=forged')}`, { method: 'POST', body: p.body })).status.should.equal(403);

    await waitFor(() => last('in')?.data.params.rejected === 1 && last('in').data.params.received === 1, { what: 'the receiver counts' });
    const receiver = last('in');
    receiver.retain.should.be.true();
    receiver.data.should.eql({
      text: '/dt · 1 in, 0 dup, 1 rejected',
      key: 'dingtalk-event-in.status.counts',
      params: { path: '/dt', received: 1, duplicates: 0, rejected: 1, poison: 0 },
    });
    // the status the runtime shows (status nodes, the editor's own handler) is that same text
    lastStatus('in').text.should.equal(receiver.data.text);

    await waitFor(() => last('ok')?.data.params.delivered === 1 && last('bad')?.data.params.dead === 1, { what: 'a delivery and a dead letter' });
    last('ok').data.should.eql({ text: 'queued 0 · delivered 1 · dead 0', key: 'dingtalk-dispatch.status.counts', params: { queued: 0, delivered: 1, dead: 0 } });
    // the failing subscriber: since when (the runtime's clock), queued and dead as parameters
    const failing = last('bad').data;
    failing.key.should.equal('dingtalk-dispatch.status.failing');
    failing.params.should.have.properties({ queued: 0, dead: 1 });
    failing.params.since.should.match(/^\d\d:\d\d$/);
    failing.text.should.equal(`failing since ${failing.params.since} · queued 0`);
    lastStatus('bad').should.have.properties({ fill: 'red', text: failing.text });
  });

  it('a nested text (a status inside a status) is rendered inside out and published as it is', function () {
    const { renderText, text } = require('../../nodes/editor-text.js');
    const inner = text('dingtalk-event-in.status.counts', { path: '/dt', received: 2, duplicates: 0, rejected: 0 });
    renderText({ _: render }, text('dingtalk-event-in.status.shared-root', { text: inner }))
      .should.equal('/dt · 2 in, 0 dup, 0 rejected · editor parser in front (httpAdminRoot)');
  });

  it('a deleted node drops its retained status; a redeployed one does not', async function () {
    const flow = await load();
    await waitFor(() => last('ok') !== undefined, { what: 'a first status' });
    await helper.setFlows(flow.filter((n) => n.id !== 'ok'), 'full');
    await waitFor(() => last('ok')?.data === null, { what: 'the deleted node to drop its status' });
    last('ok').retain.should.be.false();
    // bad is only redeployed: no drop, a fresh status instead
    published.filter((m) => m.topic === TOPIC + 'bad' && m.data === null).length.should.equal(0);
  });

  it('a Stream connection refused: the reason is a key with DingTalk\'s error code, not the client\'s English sentence', async function () {
    const gateway = await startFakeGateway({ dingappone: 'the-right-secret' });
    try {
      freshStore();
      helper.settings({ ...helper.settings(), dingtalkAppApiUrl: gateway.url });
      published = [];
      await helper.load([
        withHooks((RED) => { RED._ = render; RED.events.on('comms', (m) => { if (m.topic.startsWith(TOPIC)) published.push(m); }); return appModule(RED); }),
        streamModule,
      ], [
        { id: 'tab', type: 'tab' },
        { id: 'app1', type: 'dingtalk-app', appKey: 'dingappone' },
        { id: 's1', z: 'tab', type: 'dingtalk-stream-in', app: 'app1', wires: [[]] },
      ], { app1: { appSecret: 'a-wrong-secret' } });
      await waitFor(() => last('s1')?.data.key === 'dingtalk-stream-in.status.reconnecting', { what: 'the reconnecting status' });
      const { params, text } = last('s1').data;
      params.error.should.eql({ key: 'dingtalk-stream-in.reconnect.refused', params: { code: 'invalidClientIdOrSecret' } });
      text.should.match(/^reconnecting in \d+ s: refused \(invalidClientIdOrSecret\)$/);
    } finally {
      await helper.unload();
      await gateway.close();
    }
  });
});
