'use strict';
// The event center's counters and metrics, end to end inside node-red-node-test-helper: real pushes over
// HTTP to dingtalk-event-in, real deliveries to local HTTP subscribers (one failing into dead letters),
// then GET <admin>/dingtalk/metrics must be valid Prometheus text whose counters equal what happened,
// and still equal it after a full redeploy and after the runtime is unloaded and loaded again on the same
// store file (what a restart does to the store). The receivers' and dispatch nodes' statuses read the
// same persisted counts. Dead letters and rejected pushes reach a core catch node as alerts.
const should = require('should');
const http = require('node:http');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const eventInModule = require('../../nodes/dingtalk-event-in.js').default;
const dispatchModule = require('../../nodes/dingtalk-dispatch.js').default;
const catchNode = require('@node-red/nodes/core/common/25-catch.js');
const { APP, makePush } = require('../support/push');
const { freshStore, callsOn, settle } = require('../support/runtime');
const { parsePrometheus } = require('../support/prometheus-text');
const { waitFor } = require('../support/wait');

helper.init(require.resolve('node-red'));
const { withHooks } = require('../support/hooks');
const { withCatalogue } = require('../support/i18n');

function startSubscriber(status) {
  const requests = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push(req.url);
      res.writeHead(status);
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    requests,
    url: `http://127.0.0.1:${server.address().port}/hook?token=never-in-an-alert`,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  })));
}

let server;
let base;
const flow = (okUrl, badUrl) => [
  { id: 'tab', type: 'tab' },
  { id: 'app', type: 'dingtalk-app', appKey: APP.appKey, callbackStyle: 'event-subscription' },
  { id: 'in', z: 'tab', x: 0, y: 0, type: 'dingtalk-event-in', app: 'app', url: '/dt', wires: [['oa', 'erp']] },
  { id: 'oa', z: 'tab', x: 0, y: 0, type: 'dingtalk-dispatch', url: okUrl, wires: [['oa-ok'], []] },
  { id: 'erp', z: 'tab', x: 0, y: 0, type: 'dingtalk-dispatch', name: 'ERP', url: badUrl, retrySchedule: '0, 20ms', wires: [[], ['erp-dead']] },
  { id: 'oa-ok', z: 'tab', x: 0, y: 0, type: 'helper' },
  { id: 'erp-dead', z: 'tab', x: 0, y: 0, type: 'helper' },
  { id: 'catch', z: 'tab', x: 0, y: 0, type: 'catch', scope: ['erp', 'in'], uncaught: false, wires: [['caught']] },
  { id: 'caught', z: 'tab', x: 0, y: 0, type: 'helper' },
];
const credentials = { app: { token: APP.token, aesKey: APP.aesKey } };

async function loadHub(nodes, { keepStore = false } = {}) {
  if (!keepStore) freshStore();
  let httpNode;
  await helper.load(
    [withCatalogue(withHooks(appModule)), (RED) => { httpNode = RED.httpNode; return eventInModule(RED); }, dispatchModule, catchNode],
    nodes,
    credentials,
  );
  server = http.createServer(httpNode);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
}

async function stopServer() {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  server = undefined;
}

const push = async (event, { forge = false, headers = {} } = {}) => {
  const p = makePush(JSON.stringify(event));
  const query = forge ? p.query.replace(/msg_signature=[^&]+/, 'msg_signature=0000') : p.query;
  const res = await fetch(`${base}/dt?${query}`, { method: 'POST', body: p.body, headers: { 'content-type': 'application/json', ...headers } });
  await res.arrayBuffer();
  return res.status;
};
const event = (i) => ({ EventType: 'bpms_instance_change', eventId: `m-${i}`, CorpId: 'ding1' });

const collect = (id) => {
  const got = [];
  helper.getNode(id).on('input', (m) => got.push(m));
  return got;
};

async function metrics() {
  const res = await helper.request().get('/dingtalk/metrics').expect(200);
  res.headers['content-type'].should.match(/^text\/plain;.*version=0\.0\.4/);
  return parsePrometheus(res.text);
}

/** The counters this test's traffic must show, whatever happened to the runtime since. */
function expectCounters(m, { received }) {
  m.types.get('dingtalk_hub_events_received_total').should.equal('counter');
  m.value('dingtalk_hub_events_received_total', { app: APP.appKey, source: 'http' }).should.equal(received);
  m.value('dingtalk_hub_duplicates_total').should.equal(1);
  m.value('dingtalk_hub_pushes_rejected_total', { code: 'bad-signature' }).should.equal(2);
  m.value('dingtalk_hub_deliveries_total', { subscriber: 'oa', outcome: 'delivered' }).should.equal(received);
  m.value('dingtalk_hub_deliveries_total', { subscriber: 'erp', outcome: 'failed' }).should.equal(received);
  m.value('dingtalk_hub_deliveries_total', { subscriber: 'erp', outcome: 'dead' }).should.equal(received);
  m.value('dingtalk_hub_deliveries_total', { subscriber: 'erp', outcome: 'delivered' }).should.equal(0);
  m.value('dingtalk_hub_queue_depth', { subscriber: 'oa' }).should.equal(0);
  m.value('dingtalk_hub_oldest_queued_seconds', { subscriber: 'erp' }).should.equal(0);
  m.value('dingtalk_hub_store_up').should.equal(1);
}

const lastStatus = (id) => callsOn(helper.getNode(id), 'status').pop()?.[0].text;

describe('hub counters, metrics and alerts', function () {
  let ok;
  let bad;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(async function () {
    ok = await startSubscriber(200);
    bad = await startSubscriber(500);
  });
  afterEach(async function () {
    await stopServer();
    await helper.unload();
    await ok.close();
    await bad.close();
  });

  it('serves valid Prometheus text whose counters equal the pushes and deliveries, after a full redeploy and a reload too', async function () {
    await loadHub(flow(ok.url, bad.url));
    let delivered = collect('oa-ok');
    let dead = collect('erp-dead');
    for (const i of [1, 2, 3, 2]) (await push(event(i))).should.equal(200);
    (await push(event(9), { forge: true })).should.equal(403);
    (await push(event(9), { forge: true })).should.equal(403);
    await waitFor(() => delivered.length === 3 && dead.length === 3, { what: 'three deliveries and three dead letters' });
    const first = await metrics();
    expectCounters(first, { received: 3 });
    first.value('dingtalk_hub_delivery_duration_seconds_count', { subscriber: 'oa', outcome: 'delivered' }).should.equal(3);
    first.value('dingtalk_hub_delivery_duration_seconds_bucket', { subscriber: 'erp', outcome: 'dead', le: '+Inf' }).should.equal(3);
    await waitFor(() => lastStatus('in') === '/dt · 3 in, 1 dup, 2 rejected', { what: `the receiver's status (${lastStatus('in')})` });

    // A full deploy closes every node and the store, and opens them again.
    await helper.setFlows(flow(ok.url, bad.url), 'full', credentials);
    expectCounters(await metrics(), { received: 3 });
    await waitFor(() => lastStatus('in') === '/dt · 3 in, 1 dup, 2 rejected', { what: `the status after the deploy (${lastStatus('in')})` });
    await waitFor(() => /delivered 3 · /.test(lastStatus('oa') ?? ''), { what: `the dispatch status after the deploy (${lastStatus('oa')})` });

    // The runtime stops and starts again on the same store file.
    await stopServer();
    await helper.unload();
    await loadHub(flow(ok.url, bad.url), { keepStore: true });
    expectCounters(await metrics(), { received: 3 });
    delivered = collect('oa-ok');
    dead = collect('erp-dead');
    (await push(event(4))).should.equal(200);
    await waitFor(() => delivered.length === 1 && dead.length === 1, { what: 'the fourth event delivered and dead-lettered' });
    expectCounters(await metrics(), { received: 4 });
    await waitFor(() => lastStatus('in') === '/dt · 4 in, 1 dup, 2 rejected', { what: `the status after the reload (${lastStatus('in')})` });
  });

  it('serves the metrics on the httpNode path settings.js names (dingtalkMetrics.path), behind httpNodeMiddleware', async function () {
    const before = helper.settings();
    const guard = (req, res, next) => (req.headers['x-scraper'] === 'allowed' ? next() : res.status(401).end());
    helper.settings({ ...before, dingtalkMetrics: { path: '/metrics' }, httpNodeMiddleware: guard });
    try {
      await loadHub(flow(ok.url, bad.url));
      const delivered = collect('oa-ok');
      (await push(event(1), { headers: { 'x-scraper': 'allowed' } })).should.equal(200);
      await waitFor(() => delivered.length === 1, { what: 'a delivery' });
      (await fetch(`${base}/metrics`)).status.should.equal(401);
      const res = await fetch(`${base}/metrics`, { headers: { 'x-scraper': 'allowed' } });
      res.status.should.equal(200);
      const m = parsePrometheus(await res.text());
      m.value('dingtalk_hub_events_received_total', { app: APP.appKey, source: 'http' }).should.equal(1);
      m.value('dingtalk_hub_store_up').should.equal(1);
    } finally {
      helper.settings(before);
    }
  });

  it('reports the store down (dingtalk_hub_store_up 0) when it cannot be opened, and still answers', async function () {
    const dir = freshStore();
    const blocker = require('node:path').join(dir, 'not-a-folder');
    require('node:fs').writeFileSync(blocker, 'x');
    const before = helper.settings();
    helper.settings({ ...before, dingtalkStorePath: require('node:path').join(blocker, 'hub.sqlite') });
    try {
      await helper.load([dispatchModule], []);
      const m = await metrics();
      m.value('dingtalk_hub_store_up').should.equal(0);
      should(m.value('dingtalk_hub_events_received_total', { app: APP.appKey, source: 'http' })).be.undefined();
    } finally {
      helper.settings(before);
    }
  });

  it('hands a dead letter and a spell of rejected pushes to a catch node, rate-limited, with the documented fields', async function () {
    await loadHub(flow(ok.url, bad.url));
    const caught = collect('caught');
    const dead = collect('erp-dead');
    for (const i of [1, 2, 3]) await push(event(i));
    for (let i = 0; i < 5; i++) (await push(event(9), { forge: true })).should.equal(403);
    await waitFor(() => dead.length === 3, { what: 'three dead letters' });
    await settle(200); // bounded: the other two dead letters and four rejections wait for the next minute
    const deadAlerts = caught.filter((m) => m.alert.kind === 'dead-letter');
    const rejected = caught.filter((m) => m.alert.kind === 'rejected-pushes');
    deadAlerts.should.have.length(1);
    rejected.should.have.length(1);
    // The first dead letter, whichever of the three died first.
    const first = deadAlerts[0].alert.eventId;
    ['m-1', 'm-2', 'm-3'].should.containEql(first);
    deadAlerts[0].alert.should.have.properties({ code: 'dead-letter', count: 1, subscriber: 'erp', nodeName: 'ERP', nodeType: 'dingtalk-dispatch', status: 500, attempts: 2 });
    deadAlerts[0].alert.url.should.equal(bad.url.replace(/\?.*$/, '')); // no query: a token may sit there
    deadAlerts[0].error.source.id.should.equal('erp');
    deadAlerts[0].error.message.should.containEql(`1 dead letter(s), the latest event ${first}`);
    deadAlerts[0].payload.eventId.should.equal(first); // the event itself, as on the dead-letter output
    rejected[0].alert.should.have.properties({ code: 'bad-signature', count: 1, node: 'in', path: '/dt', status: 403 });
    rejected[0].error.source.id.should.equal('in');
    const text = JSON.stringify(caught);
    for (const secret of ['never-in-an-alert', APP.token, APP.aesKey]) text.should.not.containEql(secret);
  });
});
