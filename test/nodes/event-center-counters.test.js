'use strict';
// The event center's overview reads the counters kept in the store, so its numbers survive a full
// deploy (every node and the store closed and opened again): an HTTP receiver's received / duplicates /
// rejected by code / last event, a dispatch node's delivered and delivered per minute, and an app's
// Stream receiver (frames from a local Stream gateway and the editor's "send test event"), listed with
// the app's name. The dingtalk-stream-in status shows the same Stream counts, in the user's words.
require('should');
const http = require('node:http');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const eventInModule = require('../../nodes/dingtalk-event-in.js').default;
const streamModule = require('../../nodes/dingtalk-stream-in.js').default;
const dispatchModule = require('../../nodes/dingtalk-dispatch.js').default;
const centerModule = require('../../nodes/dingtalk-event-center.js').default;
const { APP, makePush } = require('../support/push');
const { freshStore, callsOn } = require('../support/runtime');
const { withHooks } = require('../support/hooks');
const { withCatalogue } = require('../support/i18n');
const { startFakeGateway, frame } = require('../support/fake-gateway');
const { waitFor } = require('../support/wait');

helper.init(require.resolve('node-red'));

const STREAM_APP = { appKey: 'dingstreamcount01', appSecret: 'stream-secret-counters' };

describe('event center overview: persisted counts', function () {
  let gateway;
  let subscriber;
  let server;
  let base;
  before(() => helper.startServer());
  after(() => helper.stopServer());

  beforeEach(async function () {
    freshStore();
    gateway = await startFakeGateway({ [STREAM_APP.appKey]: STREAM_APP.appSecret });
    helper.settings({ ...helper.settings(), dingtalkAppApiUrl: gateway.url });
    subscriber = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(200); res.end(); }); });
    await new Promise((r) => subscriber.listen(0, '127.0.0.1', r));
  });

  afterEach(async function () {
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    await helper.unload();
    await gateway.close();
    subscriber.closeAllConnections();
    await new Promise((r) => subscriber.close(r));
  });

  const flow = () => [
    { id: 'tab', type: 'tab' },
    { id: 'http-app', type: 'dingtalk-app', name: 'HTTP app', appKey: APP.appKey, callbackStyle: 'event-subscription' },
    { id: 'stream-app', type: 'dingtalk-app', name: 'Stream app', appKey: STREAM_APP.appKey, callbackStyle: 'event-subscription' },
    { id: 'in', z: 'tab', type: 'dingtalk-event-in', name: 'Receiver', app: 'http-app', url: '/dt', wires: [['hr']] },
    { id: 's1', z: 'tab', type: 'dingtalk-stream-in', app: 'stream-app', wires: [['hr']] },
    { id: 'hr', z: 'tab', type: 'dingtalk-dispatch', name: 'HR', url: `http://127.0.0.1:${subscriber.address().port}/hook`, wires: [[], []] },
  ];
  const credentials = { 'http-app': { token: APP.token, aesKey: APP.aesKey }, 'stream-app': { appSecret: STREAM_APP.appSecret } };

  const push = async (event, { forge = false } = {}) => {
    const p = makePush(JSON.stringify(event));
    const query = forge ? p.query.replace(/msg_signature=[^&]+/, 'msg_signature=0000') : p.query;
    const res = await fetch(`${base}/dt?${query}`, { method: 'POST', body: p.body });
    await res.arrayBuffer();
    return res.status;
  };
  const overview = async () => (await helper.request().get('/dingtalk-event-center/overview').expect(200)).body;
  const streamStatus = () => callsOn(helper.getNode('s1'), 'status').pop()?.[0].text ?? '';
  const connected = () => gateway.current(STREAM_APP.appKey) !== undefined && streamStatus().startsWith('connected since');

  it('keeps receivers\' (HTTP and Stream) and subscribers\' counts across a full deploy', async function () {
    let httpNode;
    const modules = [withCatalogue(withHooks(appModule)), (RED) => { httpNode = RED.httpNode; return eventInModule(RED); }, streamModule, dispatchModule, centerModule];
    await helper.load(modules, flow(), credentials);
    server = http.createServer(httpNode);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${server.address().port}`;

    for (const id of ['e1', 'e2', 'e1']) (await push({ EventType: 'user_add_org', eventId: id, CorpId: APP.corpId })).should.equal(200);
    (await push({ EventType: 'user_add_org', eventId: 'e9' }, { forge: true })).should.equal(403);
    await waitFor(connected, { what: `the Stream connection (${streamStatus()})` });
    const conn = gateway.current(STREAM_APP.appKey);
    const ev = frame('bpms_instance_change.json');
    gateway.send(conn, ev);
    gateway.send(conn, { ...ev, headers: { ...ev.headers, messageId: 'again-1' } }); // the same event again
    (await helper.request().post('/dingtalk-stream-in/s1/test').send({}).expect(200)).body.verdict.should.equal('new');
    await waitFor(() => conn.acks.length === 2, { what: 'both frames acknowledged' });
    // The stream-in status shows the app's Stream counts: the frame, the test event, the repeat.
    await waitFor(() => / · 2 in, 1 dup$/.test(streamStatus()), { what: `the Stream counts in the status (${streamStatus()})` });

    let before;
    await waitFor(async () => {
      before = await overview();
      return before.dispatchers[0]?.counts.delivered === 4;
    }, { what: 'four deliveries (two HTTP events, the Stream event, the test event)' });
    const receiver = (o) => o.receivers.find((r) => r.id === 'in');
    const stream = (o) => o.receivers.find((r) => r.id === 'stream:stream-app');
    receiver(before).should.have.properties({ name: 'Receiver', kind: 'http', path: '/dt', received: 2, duplicates: 1, rejected: 1, rejectedByCode: { 'bad-signature': 1 } });
    receiver(before).lastEventAt.should.be.within(Date.now() - 60_000, Date.now());
    stream(before).should.have.properties({ name: 'Stream app', kind: 'stream', path: '', received: 2, duplicates: 1, rejected: 0 });
    stream(before).lastEventAt.should.be.within(Date.now() - 60_000, Date.now());
    before.receivers.should.have.length(2); // the HTTP app has no dingtalk-stream-in: no Stream receiver of its own
    before.dispatchers[0].should.have.properties({ id: 'hr', name: 'HR', counts: { queued: 0, delivered: 4, dead: 0 }, deliveredPerMinute: 4 / 5 });

    // A full deploy closes every node and the store, and opens them again: the counts are the store's.
    await helper.setFlows(flow(), 'full', credentials);
    const after = await overview();
    receiver(after).should.eql(receiver(before));
    stream(after).should.eql(stream(before));
    after.dispatchers.should.eql(before.dispatchers);
    await waitFor(connected, { what: 'the Stream connection after the deploy' });
    await waitFor(() => / · 2 in, 1 dup$/.test(streamStatus()), { what: `the Stream counts in the status after the deploy (${streamStatus()})` });
  });
});
