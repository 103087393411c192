'use strict';
// The event center's admin routes (event-center-routes.ts; dingtalk-dispatch's replay and export for its
// dialog do the same work, dispatch-actions.ts) inside node-red-node-test-helper: two real receivers over HTTP, three dispatch nodes delivering to real
// local HTTP endpoints (one failing), and the plugin's runtime half loaded like a node module.
require('should');
const http = require('node:http');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const eventInModule = require('../../nodes/dingtalk-event-in.js').default;
const dispatchModule = require('../../nodes/dingtalk-dispatch.js').default;
const centerModule = require('../../nodes/dingtalk-event-center.js').default;
const { generateSecret } = require('../../core/delivery/signing');
const { APP, makePush } = require('../support/push');
const { freshStore } = require('../support/runtime');
const { withHooks } = require('../support/hooks');
const { hasPermission } = require('@node-red/editor-api/lib/auth/permissions');

helper.init(require.resolve('node-red'));

const until = async (what, fn, ms = 8000) => {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

function endpoint() {
  const state = { up: true, hits: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.hits += 1;
      res.writeHead(state.up ? 200 : 500);
      res.end(state.up ? 'ok' : 'down');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(Object.assign(state, {
    url: `http://127.0.0.1:${server.address().port}/hook?key=in-the-url`,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  }))));
}

/**
 * The helper lets every request through RED.auth.needsPermission: this one judges the permission a route
 * asks for by Node-RED's own rule, against the scope a request names in X-Scope (comma-separated; default: everything).
 */
const withPermissions = (module) => (RED) => module(Object.create(RED, {
  auth: { value: { needsPermission: (permission) => (req, res, next) => (hasPermission((req.get('x-scope') ?? '*').split(/,\s*/), permission) ? next() : res.status(401).end()) } },
}));

const SECRETS = { hr: generateSecret(), oa: generateSecret(), authorization: 'Bearer erp-secret-token-4711' };

const overview = async () => (await helper.request().get('/dingtalk-event-center/overview').expect(200)).body;
/** A dispatch node's counts as the overview gives them: queued and dead from the store's queue, delivered counted. */
const countsOf = async (id) => (await overview()).dispatchers.find((d) => d.id === id).counts;

describe('event center admin routes', function () {
  let server;
  let base;
  let endpoints;
  before(() => helper.startServer());
  after(() => helper.stopServer());

  beforeEach(async function () {
    endpoints = { hr: await endpoint(), oa: await endpoint(), erp: await endpoint() };
    endpoints.erp.up = false;
    freshStore();
    const subscribers = ['hr', 'oa', 'erp'];
    const flow = [
      { id: 'tab', type: 'tab' },
      { id: 'app', type: 'dingtalk-app', name: 'HR app', appKey: APP.appKey, callbackStyle: 'event-subscription' },
      { id: 'in-a', z: 'tab', type: 'dingtalk-event-in', name: 'Receiver A', app: 'app', url: '/dt-a', wires: [subscribers] },
      { id: 'in-b', z: 'tab', type: 'dingtalk-event-in', name: 'Receiver B', app: 'app', url: '/dt-b', wires: [subscribers] },
      ...subscribers.map((id) => ({ id, z: 'tab', type: 'dingtalk-dispatch', name: `${id} system`, url: endpoints[id].url, retrySchedule: '0', wires: [[], []] })),
    ];
    let httpNode;
    await helper.load([withHooks(withPermissions(appModule)), (RED) => { httpNode = RED.httpNode; return eventInModule(RED); }, withPermissions(dispatchModule), withPermissions(centerModule)], flow, {
      app: { token: APP.token, aesKey: APP.aesKey },
      hr: { secret: SECRETS.hr },
      oa: { secret: SECRETS.oa },
      erp: { authorization: SECRETS.authorization },
    });
    server = http.createServer(httpNode);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${server.address().port}`;
    const push = async (path, event) => {
      const p = makePush(JSON.stringify(event));
      (await fetch(`${base}${path}?${p.query}`, { method: 'POST', body: p.body })).status.should.equal(200);
    };
    await push('/dt-a', { EventType: 'bpms_instance_change', eventId: 'ev-approval', CorpId: APP.corpId, processInstanceId: 'pi-77', staffId: 'staff-1' });
    await push('/dt-b', { EventType: 'user_add_org', eventId: 'ev-user', CorpId: APP.corpId, userId: ['zhang-san'] });
    await until('two deliveries each to hr and oa, two dead letters of erp', async () => {
      const { dispatchers } = await overview();
      const counts = subscribers.map((id) => dispatchers.find((d) => d.id === id).counts);
      return counts[0].delivered === 2 && counts[1].delivered === 2 && counts[2].dead === 2;
    });
  });

  afterEach(async function () {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await helper.unload();
    for (const e of Object.values(endpoints)) await e.close();
  });

  it('gives the overview: per receiver its counts and rejections by code, per dispatch node its queue, and events per minute', async function () {
    const bad = makePush('{}');
    (await fetch(`${base}/dt-a?${bad.query.replace(/msg_signature=[^&]+/, 'msg_signature=0000')}`, { method: 'POST', body: bad.body })).status.should.equal(403);
    const res = await helper.request().get('/dingtalk-event-center/overview').expect(200);
    const a = res.body.receivers.find((r) => r.id === 'in-a');
    a.should.have.properties({ name: 'Receiver A', kind: 'http', path: '/dt-a', received: 1, duplicates: 0, rejected: 1, poison: 0 });
    a.rejectedByCode.should.eql({ 'bad-signature': 1 });
    a.lastEventAt.should.be.within(Date.now() - 60_000, Date.now());
    res.body.receivers.find((r) => r.id === 'in-b').should.have.properties({ received: 1, rejected: 0 });
    const erp = res.body.dispatchers.find((d) => d.id === 'erp');
    erp.should.have.properties({ name: 'erp system', counts: { queued: 0, delivered: 0, dead: 2 } });
    erp.failingSince.should.be.a.Number();
    erp.host.should.equal(new URL(endpoints.erp.url).host);
    const hr = res.body.dispatchers.find((d) => d.id === 'hr');
    hr.counts.should.eql({ queued: 0, delivered: 2, dead: 0 });
    hr.deliveredPerMinute.should.equal(2 / 5); // the average over the last five minutes
    (hr.oldestQueuedAge === undefined).should.be.true();
    res.body.perMinute.counts.should.have.length(60);
    res.body.perMinute.counts.reduce((x, y) => x + y, 0).should.equal(2);
    (res.body.perMinute.counts[58] + res.body.perMinute.counts[59]).should.equal(2); // the last minute or two
  });

  it("searches events and shows one with its payload, source and every subscriber's delivery", async function () {
    const byId = await helper.request().get('/dingtalk-event-center/events').query({ eventId: 'ev-approval' }).expect(200);
    byId.body.events.should.have.length(1);
    byId.body.events[0].should.have.properties({ eventId: 'ev-approval', type: 'bpms_instance_change', source: 'http', receiver: 'in-a', receiverName: 'Receiver A', app: 'app', appName: 'HR app' });
    byId.body.events[0].payload.processInstanceId.should.equal('pi-77');
    const ids = async (query) => (await helper.request().get('/dingtalk-event-center/events').query(query).expect(200)).body.events.map((e) => e.eventId);
    (await ids({ processInstanceId: 'pi-77' })).should.eql(['ev-approval']);
    (await ids({ userId: 'zhang-san' })).should.eql(['ev-user']);
    (await ids({ userId: 'staff-1' })).should.eql(['ev-approval']);
    (await ids({ type: 'user_add_org' })).should.eql(['ev-user']);
    (await ids({})).should.eql(['ev-user', 'ev-approval']);
    (await ids({ from: String(Date.now() + 60_000) })).should.eql([]);
    (await ids({ to: new Date(Date.now() - 60_000).toISOString() })).should.eql([]);

    const detail = await helper.request().get('/dingtalk-event-center/events/ev-approval').expect(200);
    detail.body.events[0].payload.staffId.should.equal('staff-1');
    detail.body.deliveries.map((d) => [d.subscriber, d.subscriberName, d.state, d.attempts, d.lastStatus]).should.eql([
      ['erp', 'erp system', 'dead', 1, 500],
      ['hr', 'hr system', 'delivered', 1, 200],
      ['oa', 'oa system', 'delivered', 1, 200],
    ]);
    detail.body.deliveries[0].lastError.should.match(/500/);
    detail.body.deliveries.forEach((d) => d.should.not.have.property('body'));
  });

  it('shows the age of the oldest queued delivery', async function () {
    endpoints.hr.up = false; // retried after a minute: the events stay queued
    await helper.setFlows([
      { id: 'tab', type: 'tab' },
      { id: 'slow', z: 'tab', type: 'dingtalk-dispatch', name: 'slow system', url: endpoints.hr.url, retrySchedule: '0, 60', wires: [[], []] },
    ], 'full');
    helper.getNode('slow').receive({ topic: 'user_add_org', payload: { userId: ['li-si'] }, dingtalk: { eventId: 'ev-queued', eventType: 'user_add_org' } });
    await until('the failed attempt', () => endpoints.hr.hits === 3);
    await new Promise((r) => setTimeout(r, 1100));
    const slow = (await overview()).dispatchers.find((d) => d.id === 'slow');
    slow.counts.queued.should.equal(1);
    slow.oldestQueuedAge.should.be.within(1000, 30_000);
  });

  it('replays one dead letter, then all of a subscriber, and exports dead letters as JSON', async function () {
    const exported = await helper.request().get('/dingtalk-event-center/dead-letters/erp').expect(200);
    exported.headers['content-disposition'].should.match(/attachment; filename="dead-letters-erp\.json"/);
    const letters = JSON.parse(exported.text);
    letters.map((l) => l.eventId).sort().should.eql(['ev-approval', 'ev-user']);
    letters.find((l) => l.eventId === 'ev-user').payload.userId.should.eql(['zhang-san']);
    endpoints.erp.up = true;
    const one = letters.find((l) => l.eventId === 'ev-user');
    // The dispatch node's own export (its dialog) answers the same file.
    JSON.parse((await helper.request().get('/dingtalk-dispatch/erp/dead-letters').expect(200)).text).should.eql(letters);
    (await helper.request().post('/dingtalk-event-center/replay').send({ subscriber: 'erp', id: 'x' }).expect(400)).body.should.eql({ error: 'id', params: { id: 'x' } });
    (await helper.request().post('/dingtalk-event-center/replay').send({ subscriber: 'nope' }).expect(404)).body.should.eql({ error: 'not-deployed' });
    (await helper.request().post('/dingtalk-event-center/replay').send({}).expect(404)).body.should.eql({ error: 'not-deployed' });
    await helper.request().get('/dingtalk-event-center/dead-letters/nope').expect(404);
    (await helper.request().post('/dingtalk-event-center/replay').send({ subscriber: 'erp', id: one.id }).expect(200)).body.should.eql({ replayed: 1 });
    await until('the replayed delivery', async () => (await countsOf('erp')).delivered === 1);
    (await countsOf('erp')).dead.should.equal(1);
    (await helper.request().post('/dingtalk-event-center/replay').send({ subscriber: 'erp' }).expect(200)).body.should.eql({ replayed: 1 });
    await until('every dead letter delivered', async () => (await countsOf('erp')).delivered === 2);
    JSON.parse((await helper.request().get('/dingtalk-event-center/dead-letters/erp').expect(200)).text).should.eql([]);
    const detail = await helper.request().get('/dingtalk-event-center/events/ev-user').expect(200);
    detail.body.deliveries.find((d) => d.subscriber === 'erp').should.have.properties({ state: 'delivered', lastStatus: 200 });
  });

  it('lets a read-only user view and export, not replay', async function () {
    for (const path of ['/dingtalk-event-center/overview', '/dingtalk-event-center/events', '/dingtalk-event-center/events/ev-user',
      '/dingtalk-event-center/dead-letters/erp', '/dingtalk-dispatch/erp/dead-letters']) {
      await helper.request().get(path).set('X-Scope', 'read').expect(200);
      await helper.request().get(path).set('X-Scope', 'dingtalk.read').expect(path.startsWith('/dingtalk-event-center/') ? 200 : 401);
      await helper.request().get(path).set('X-Scope', 'flows.read').expect(401);
    }
    await helper.request().post('/dingtalk-event-center/replay').set('X-Scope', 'read').send({ subscriber: 'erp' }).expect(401);
    await helper.request().post('/dingtalk-event-center/replay').set('X-Scope', 'dingtalk.read').send({ subscriber: 'erp' }).expect(401);
    await helper.request().post('/dingtalk-dispatch/erp/replay').set('X-Scope', 'read').send({}).expect(401);
    await helper.request().post('/dingtalk-dispatch/erp/replay').set('X-Scope', 'dingtalk.write').send({}).expect(401);
    (await countsOf('erp')).dead.should.equal(2);
    (await helper.request().post('/dingtalk-event-center/replay').set('X-Scope', 'read, dingtalk.write').send({ subscriber: 'erp' }).expect(200)).body.should.eql({ replayed: 2 });
    await helper.request().post('/dingtalk-dispatch/erp/replay').set('X-Scope', 'read, dingtalk-dispatch.write').send({}).expect(200);
  });

  it('never answers with a secret', async function () {
    const texts = [];
    for (const path of ['/dingtalk-event-center/overview', '/dingtalk-event-center/events', '/dingtalk-event-center/events/ev-user',
      '/dingtalk-event-center/events/ev-approval', '/dingtalk-event-center/dead-letters/erp', '/dingtalk-dispatch/erp/dead-letters', '/dingtalk-dispatch/hr/deliveries?state=delivered']) {
      texts.push((await helper.request().get(path).expect(200)).text);
    }
    const all = texts.join('\n');
    all.should.match(/ev-user/); // the answers are there...
    for (const secret of [APP.token, APP.aesKey, SECRETS.hr, SECRETS.hr.slice(6), SECRETS.oa, SECRETS.authorization, 'erp-secret-token-4711', 'in-the-url']) {
      all.should.not.containEql(secret); // ...without a secret
    }
  });
});
