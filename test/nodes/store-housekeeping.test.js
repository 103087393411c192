'use strict';
// The store's housekeeper in a Node-RED runtime: it runs whatever nodes use the store (a Stream-only hub
// has no HTTP receiver), and lets go of the queue of a dispatch node deleted from the flows once the
// grace period (dingtalkOrphanGraceHours) has passed, not before, and not when a deploy brings it back.
require('should');
const path = require('node:path');
const Database = require('better-sqlite3');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const streamModule = require('../../nodes/dingtalk-stream-in.js').default;
const dispatchModule = require('../../nodes/dingtalk-dispatch.js').default;
const { deployedIds } = require('../../nodes/deployed-nodes.js');
const { EventStore } = require('../../core/store/event-store');
const { startFakeGateway, frame, until } = require('../support/fake-gateway');
const { freshStore } = require('../support/runtime');

helper.init(require.resolve('node-red'));
const { withHooks } = require('../support/hooks');
const APPS = { dingappone: 'stream-secret-one' };
const DAY = 24 * 3_600_000;

// The helper's RED._ returns the key; render the parameters too, so log lines show node ids and counts.
const renderKey = (key, params) => (params && Object.keys(params).length ? `${key} ${JSON.stringify(params)}` : key);
const rendered = (register) => (RED) => { RED._ = renderKey; return register(RED); };
const modules = [withHooks(rendered(appModule)), rendered(streamModule), rendered(dispatchModule)];
const credentials = { app1: { appSecret: APPS.dingappone } };

describe('store housekeeping in a runtime', function () {
  let gateway;
  let file;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(async () => {
    gateway = await startFakeGateway(APPS);
    file = path.join(freshStore(), 'hub.sqlite');
    helper.settings({ ...helper.settings(), dingtalkAppApiUrl: gateway.url, dingtalkStorePath: file });
  });
  afterEach(async () => {
    await helper.unload();
    await gateway.close();
  });

  const read = (sql) => {
    const db = new Database(file, { readonly: true });
    try { return db.prepare(sql).all(); } finally { db.close(); }
  };
  const logLines = (key) => helper.log().args.map((a) => String(a[0]?.msg ?? '')).filter((m) => m.includes(key));
  const connected = () => gateway.open('dingappone').length === 1;

  it('a Stream-only hub (an app and a stream-in node, no HTTP receiver) forgets events older than the window', async function () {
    // Events received by the app's Stream connection 8 days ago and an hour ago, all handed on.
    const old = new EventStore(file, { now: () => Date.now() - 8 * DAY });
    for (const id of ['old-1', 'old-2']) await old.accept(id, 'stream:app1', { id }, undefined, 'app1');
    await old.markHanded('stream:app1', ['old-1', 'old-2']);
    old.close();
    const recent = new EventStore(file, { now: () => Date.now() - 3_600_000 });
    await recent.accept('recent-1', 'stream:app1', { id: 'recent-1' }, undefined, 'app1');
    await recent.markHanded('stream:app1', ['recent-1']);
    recent.close();

    await helper.load(modules, [
      { id: 'tab', type: 'tab' },
      { id: 'app1', type: 'dingtalk-app', appKey: 'dingappone', callbackStyle: 'event-subscription' },
      { id: 's1', z: 'tab', type: 'dingtalk-stream-in', app: 'app1', wires: [[]] },
    ], credentials);
    await until('the old events forgotten', () => read('SELECT event_id FROM inbox').length === 1, 5000);
    read('SELECT event_id AS id FROM inbox').should.eql([{ id: 'recent-1' }]);
    await until('the app connected', connected); // the hub runs meanwhile
  });

  it('removes a deleted dispatch node\'s queue after the grace period, keeps it before, and not when a deploy brings the node back', async function () {
    this.timeout(30000);
    const graceMs = 1500;
    helper.settings({ ...helper.settings(), dingtalkOrphanGraceHours: graceMs / 3_600_000 });
    // d1's endpoint is never tried (first attempt in an hour): its event stays queued. `sd` is the same in
    // a subflow: it runs as `si-sd`, an id the flows do not list, and must not be taken for an orphan.
    // (Positions as the editor writes them: Node-RED takes a node without one for a config node.)
    const flow = (withD1) => [
      { id: 'tab', type: 'tab' },
      { id: 'app1', type: 'dingtalk-app', appKey: 'dingappone', callbackStyle: 'event-subscription' },
      { id: 's1', z: 'tab', type: 'dingtalk-stream-in', app: 'app1', x: 100, y: 40, wires: [withD1 ? ['d1', 'si'] : ['si']] },
      ...(withD1 ? [{ id: 'd1', z: 'tab', type: 'dingtalk-dispatch', url: 'http://127.0.0.1:9/hook', retrySchedule: '1h', x: 300, y: 40, wires: [[], []] }] : []),
      { id: 'sf', type: 'subflow', name: 'forward', in: [{ x: 0, y: 0, wires: [{ id: 'sd' }] }], out: [] },
      { id: 'sd', z: 'sf', type: 'dingtalk-dispatch', url: 'http://127.0.0.1:9/hook', retrySchedule: '1h', x: 100, y: 40, wires: [[], []] },
      { id: 'si', z: 'tab', type: 'subflow:sf', x: 300, y: 80, wires: [] },
    ];
    await helper.load(modules, flow(true), credentials);
    await until('connected', connected);
    gateway.send(gateway.current('dingappone'), frame('user_add_org.json'));
    const queue = (id) => read(`SELECT state FROM outbox WHERE subscriber = '${id}'`).length;
    await until('queued for d1 and the subflow\'s dispatch node', () => queue('d1') === 1 && queue('si-sd') === 1);

    // Deleted: seen orphaned at once, kept through the grace period.
    await helper.setFlows(flow(false), 'full', credentials);
    await until('d1 seen orphaned', () => logLines('housekeeping.orphaned-subscriber').length === 1);
    logLines('housekeeping.orphaned-subscriber')[0].should.match(/"node":"d1","rows":1,/);
    read('SELECT kind, id FROM orphans').should.eql([{ kind: 'subscriber', id: 'd1' }]);
    queue('d1').should.equal(1);

    // Deployed again before the grace period ends: the clock stops, the queue stays past the old deadline.
    await helper.setFlows(flow(true), 'full', credentials);
    await until('d1 back', () => logLines('housekeeping.returned-subscriber').length === 1);
    read('SELECT * FROM orphans').should.eql([]);
    await new Promise((r) => setTimeout(r, graceMs + 500));
    queue('d1').should.equal(1);
    logLines('housekeeping.removed').should.eql([]);

    // Deleted for good: removed once the grace period has passed, with one log line naming it.
    await helper.setFlows(flow(false), 'full', credentials);
    const orphanedAt = Date.now();
    await until('d1 seen orphaned again', () => logLines('housekeeping.orphaned-subscriber').length === 2);
    queue('d1').should.equal(1);
    await until('d1\'s queue removed', () => queue('d1') === 0, graceMs + 5000);
    (Date.now() - orphanedAt).should.be.aboveOrEqual(graceMs - 100);
    logLines('housekeeping.removed').should.have.length(1);
    logLines('housekeeping.removed')[0].should.match(/removed-subscriber \{"node":"d1","rows":1\}/);
    queue('si-sd').should.equal(1); // the subflow's dispatch node was never an orphan
    logLines('"node":"si-sd"').should.eql([]);
    read('SELECT * FROM orphans').should.eql([]);
  });
});

describe('deployed node ids', function () {
  it('lists nodes as configured and nodes inside subflow instances as they run, nested too', function () {
    const ids = deployedIds([
      { id: 'tab', type: 'tab' },
      { id: 'off', type: 'tab', disabled: true },
      { id: 'd-off', z: 'off', type: 'dingtalk-dispatch', d: true },
      { id: 'outer', type: 'subflow' },
      { id: 'inner', type: 'subflow' },
      { id: 'od', z: 'outer', type: 'dingtalk-dispatch' },
      { id: 'oi', z: 'outer', type: 'subflow:inner' },
      { id: 'id', z: 'inner', type: 'dingtalk-dispatch' },
      { id: 'i1', z: 'tab', type: 'subflow:outer' },
      { id: 'i2', z: 'off', type: 'subflow:inner' },
    ]);
    [...ids].sort().should.eql([
      'd-off', 'i1', 'i1-od', 'i1-oi', 'i1-oi-id', 'i2', 'i2-id', 'id', 'inner', 'od', 'off', 'oi', 'outer', 'tab',
    ].sort());
  });
});
