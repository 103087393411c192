'use strict';
// dingtalk-stream-in in a Node-RED runtime against the fake Stream gateway.
require('should');
const fs = require('node:fs');
const path = require('node:path');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const streamModule = require('../../nodes/dingtalk-stream-in.js').default;
const { startFakeGateway, frame, until } = require('../support/fake-gateway');
const { freshStore, callsOn, holdModule, state } = require('../support/runtime');
const { waitFor, sleep: settle } = require('../support/wait');
const { parsePrometheus } = require('../support/prometheus-text');

helper.init(require.resolve('node-red'));
const { withHooks } = require('../support/hooks');
const APPS = { dingappone: 'stream-secret-one', dingapptwo: 'stream-secret-two' };

describe('dingtalk-stream-in', function () {
  let gateway;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(async () => {
    gateway = await startFakeGateway(APPS);
    freshStore();
    helper.settings({ ...helper.settings(), dingtalkAppApiUrl: gateway.url });
  });
  afterEach(async () => { await helper.unload(); await gateway.close(); });

  async function load(extra = [], { hold = false } = {}) {
    state.held = [];
    await helper.load([withHooks(appModule), streamModule, holdModule], [
      { id: 'tab', type: 'tab' },
      { id: 'app1', type: 'dingtalk-app', appKey: 'dingappone', callbackStyle: 'event-subscription' },
      // hold: s1's events also go to a node that never finishes with them (a slow flow)
      { id: 's1', z: 'tab', type: 'dingtalk-stream-in', app: 'app1', wires: [hold ? ['out1', 'hold'] : ['out1']] },
      { id: 'hold', z: 'tab', type: 'dingtalk-test-hold' },
      { id: 's1b', z: 'tab', type: 'dingtalk-stream-in', app: 'app1', wires: [['out1b']] },
      { id: 'out1', z: 'tab', type: 'helper' },
      { id: 'out1b', z: 'tab', type: 'helper' },
      ...extra,
    ], { app1: { appSecret: APPS.dingappone }, app2: { appSecret: APPS.dingapptwo } });
    const collect = (id) => { const list = []; helper.getNode(id).on('input', (m) => list.push(m)); return list; };
    return { collect };
  }

  it('emits each event once, in the receiver message shape, and acknowledges SUCCESS with its messageId', async function () {
    const { collect } = await load();
    const out = collect('out1');
    const outB = collect('out1b');
    await until('one shared connection', () => gateway.open('dingappone').length === 1 && callsOn(helper.getNode('s1'), 'status').some((c) => String(c[0].text).startsWith('dingtalk-stream-in.status.connected')));
    const conn = gateway.current('dingappone');
    const ev = frame('bpms_instance_change.json');
    gateway.send(conn, ev);
    gateway.send(conn, { ...ev, headers: { ...ev.headers, messageId: 'redelivered-1' } }); // same eventId again
    await until('two acks', () => conn.acks.length === 2);
    await waitFor(() => out.length >= 1 && outB.length >= 1, { what: 'the event on both nodes' });
    await settle(100); // bounded: the redelivered copy must not follow
    out.length.should.equal(1);
    outB.length.should.equal(1); // both nodes of the app get it, over one connection
    gateway.state.opens.should.equal(1);
    out[0].topic.should.equal('bpms_instance_change');
    out[0].payload.should.eql(JSON.parse(ev.data));
    out[0].dingtalk.should.have.properties({ eventId: ev.headers.eventId, eventType: 'bpms_instance_change', corpId: ev.headers.eventCorpId, eventTime: Number(ev.headers.eventBornTime), source: 'stream' });
    conn.acks.map((a) => [a.headers.messageId, JSON.parse(a.data).status]).should.eql([[ev.headers.messageId, 'SUCCESS'], ['redelivered-1', 'SUCCESS']]);
    // Counted once per frame (not once per stream-in node), as the app's Stream events: the metrics say so.
    const metrics = parsePrometheus((await helper.request().get('/dingtalk/metrics').expect(200)).text);
    metrics.value('dingtalk_hub_events_received_total', { app: 'dingappone', source: 'stream' }).should.equal(1);
    metrics.value('dingtalk_hub_duplicates_total').should.equal(1);
  });

  it('answers ping with its opaque, switches connections on disconnect without losing or doubling events, and redelivers after a restart', async function () {
    const { collect } = await load([], { hold: true });
    let out = collect('out1');
    const connected = () => callsOn(helper.getNode('s1'), 'status').filter((c) => String(c[0].text).startsWith('dingtalk-stream-in.status.connected')).length;
    await until('connected', () => connected() >= 1);
    const old = gateway.current('dingappone');
    const ping = frame('_protocol/system.ping.json');
    gateway.send(old, ping);
    await until('pong', () => old.acks.length === 1);
    old.acks[0].data.should.equal(ping.data);
    gateway.send(old, frame('_protocol/system.disconnect.json'));
    await until('replacement', () => gateway.state.opens === 2 && connected() >= 2);
    const ev1 = frame('user_add_org.json');
    gateway.send(old, ev1); // still read until the server closes it
    gateway.send(gateway.current('dingappone'), ev1); // DingTalk may send it on the new one too
    gateway.send(gateway.current('dingappone'), frame('user_leave_org.json'));
    await until('three acks', () => old.acks.length === 2 && gateway.current('dingappone').acks.length === 2);
    old.ws.close();
    await waitFor(() => out.length >= 2, { what: 'both events out' });
    await settle(100); // bounded: the copy sent on both connections must not follow
    out.map((m) => m.topic).should.eql(['user_add_org', 'user_leave_org']);

    // a restart with the same store: the two acknowledged events had not finished in the flow (held),
    // so they are handed out again, flagged
    state.held.length.should.equal(2);
    await helper.unload();
    await helper.load([withHooks(appModule), streamModule], [
      { id: 'tab', type: 'tab' },
      { id: 'app1', type: 'dingtalk-app', appKey: 'dingappone' },
      { id: 's1', z: 'tab', type: 'dingtalk-stream-in', app: 'app1', wires: [['out1']] },
      { id: 'out1', z: 'tab', type: 'helper' },
    ], { app1: { appSecret: APPS.dingappone } });
    out = [];
    helper.getNode('out1').on('input', (m) => out.push(m));
    await until('redelivered', () => out.length === 2);
    out.every((m) => m.dingtalk.redelivered === true && m.dingtalk.source === 'stream').should.be.true();
  });

  it('acknowledges LATER when the store cannot be written, so nothing is lost; says so in the status, once in the log', async function () {
    const notADir = path.join(freshStore(), 'file');
    fs.writeFileSync(notADir, 'x');
    helper.settings({ ...helper.settings(), dingtalkStorePath: path.join(notADir, 'hub.sqlite') });
    const { collect } = await load();
    const out = collect('out1');
    const node = helper.getNode('s1');
    await until('connected', () => callsOn(node, 'status').some((c) => String(c[0].text).startsWith('dingtalk-stream-in.status.connected')));
    const conn = gateway.current('dingappone');
    gateway.send(conn, frame('user_add_org.json'));
    gateway.send(conn, frame('bpms_instance_change.json'));
    await until('acks', () => conn.acks.length === 2);
    conn.acks.map((a) => JSON.parse(a.data).status).should.eql(['LATER', 'LATER']);
    out.length.should.equal(0);
    callsOn(node, 'status').pop()[0].should.have.properties({ fill: 'red', text: 'dingtalk-stream-in.status.store-error' });
    callsOn(node, 'warn').filter((a) => a[0] === 'dingtalk-stream-in.errors.store').length.should.equal(1); // not one per event
    // The folder becomes usable: the next event is stored, emitted, and the status is the connection's again.
    fs.rmSync(notADir);
    gateway.send(conn, frame('user_add_org.json'));
    await until('emitted and acknowledged', () => out.length === 1 && conn.acks.length === 3); // the ack follows the emit
    JSON.parse(conn.acks[2].data).status.should.equal('SUCCESS');
    String(callsOn(node, 'status').pop()[0].text).should.startWith('dingtalk-stream-in.status.connected');
  });

  it('acknowledges LATER at once while another process holds the store\'s write lock; SUCCESS and "available again" after it', async function () {
    const Database = require('better-sqlite3');
    const { collect } = await load();
    const out = collect('out1');
    const node = helper.getNode('s1');
    await until('connected', () => callsOn(node, 'status').some((c) => String(c[0].text).startsWith('dingtalk-stream-in.status.connected')));
    const conn = gateway.current('dingappone');
    gateway.send(conn, frame('user_add_org.json')); // the store is open and has taken a write
    await until('first ack', () => conn.acks.length === 1);
    const locker = new Database(helper.settings().dingtalkStorePath);
    try {
      locker.exec('BEGIN EXCLUSIVE');
      const sentAt = Date.now();
      gateway.send(conn, frame('bpms_instance_change.json'));
      await until('LATER', () => conn.acks.length === 2);
      (Date.now() - sentAt).should.be.below(1000); // not the 5 s a long busy timeout would block
      JSON.parse(conn.acks[1].data).status.should.equal('LATER');
      callsOn(node, 'status').pop()[0].should.have.properties({ fill: 'red', text: 'dingtalk-stream-in.status.store-error' });
      locker.exec('COMMIT');
    } finally {
      locker.close();
    }
    await new Promise((r) => setTimeout(r, 600)); // past the store's fail-fast spell
    gateway.send(conn, frame('bpms_instance_change.json')); // DingTalk sends it again
    await until('SUCCESS', () => conn.acks.length === 3);
    JSON.parse(conn.acks[2].data).status.should.equal('SUCCESS');
    out.length.should.equal(2);
    callsOn(node, 'log').filter((a) => a[0] === 'dingtalk-stream-in.log.store-recovered').length.should.equal(1);
  });

  it('a frame too deep to store: acknowledged SUCCESS, not emitted, one warning, handed to a catch node; the status stays green', async function () {
    const catchNode = require('@node-red/nodes/core/common/25-catch.js');
    // x and y make them flow nodes (not config nodes), which catch nodes need
    await helper.load([appModule, streamModule, catchNode], [
      { id: 'tab', type: 'tab' },
      { id: 'app1', type: 'dingtalk-app', appKey: 'dingappone', callbackStyle: 'event-subscription' },
      { id: 's1', z: 'tab', x: 0, y: 0, type: 'dingtalk-stream-in', app: 'app1', wires: [['out1']] },
      { id: 'out1', z: 'tab', x: 0, y: 0, type: 'helper' },
      { id: 'catch', z: 'tab', x: 0, y: 0, type: 'catch', scope: ['s1'], uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab', x: 0, y: 0, type: 'helper' },
    ], { app1: { appSecret: APPS.dingappone } });
    const out = [];
    const caught = [];
    helper.getNode('out1').on('input', (m) => out.push(m));
    helper.getNode('caught').on('input', (m) => caught.push(m));
    const node = helper.getNode('s1');
    await until('connected', () => callsOn(node, 'status').some((c) => String(c[0].text).startsWith('dingtalk-stream-in.status.connected')));
    const conn = gateway.current('dingappone');
    const good = frame('user_add_org.json');
    const data = '{"a":' + '['.repeat(50_000) + ']'.repeat(50_000) + '}';
    const deep = { ...good, headers: { ...good.headers, messageId: 'deep-1', eventId: 'deep-event' }, data };
    gateway.send(conn, deep);
    gateway.send(conn, good);
    await until('emitted', () => out.length === 1 && conn.acks.length === 2);
    await waitFor(() => caught.length >= 1, { what: 'the poison caught' });
    await settle(100); // bounded: nothing more may come out
    conn.acks.map((a) => JSON.parse(a.data).status).should.eql(['SUCCESS', 'SUCCESS']);
    out.map((m) => m.dingtalk.eventId).should.eql([good.headers.eventId]);
    caught.length.should.equal(1);
    caught[0].payload.should.equal(data);
    caught[0].dingtalk.should.have.properties({ poison: 'too-deep', eventId: 'deep-event', eventType: 'user_add_org', source: 'stream' });
    caught[0].error.source.id.should.equal('s1');
    callsOn(node, 'warn').filter((a) => String(a[0]).startsWith('dingtalk-stream-in.errors.poison')).length.should.equal(1);
    callsOn(node, 'error').filter((a) => String(a[0]).startsWith('dingtalk-stream-in.errors.poison-caught')).length.should.equal(1);
    String(callsOn(node, 'status').pop()[0].text).should.startWith('dingtalk-stream-in.status.connected');
  });

  it('two apps keep separate connections; closing the flow closes the sockets', async function () {
    const { collect } = await load([
      { id: 'app2', type: 'dingtalk-app', appKey: 'dingapptwo', callbackStyle: 'event-subscription' },
      { id: 's2', z: 'tab', type: 'dingtalk-stream-in', app: 'app2', wires: [['out2']] },
      { id: 'out2', z: 'tab', type: 'helper' },
    ]);
    const out1 = collect('out1');
    const out2 = collect('out2');
    await until('both connected', () => ['s1', 's2'].every((id) => callsOn(helper.getNode(id), 'status').some((c) => String(c[0].text).startsWith('dingtalk-stream-in.status.connected'))));
    gateway.send(gateway.current('dingapptwo'), frame('user_leave_org.json'));
    await until('delivered to app two', () => out2.length === 1);
    out1.length.should.equal(0);
    const conns = gateway.open();
    conns.length.should.equal(2);
    await helper.unload();
    await until('sockets closed', () => conns.every((c) => c.closed));
  });

  it('recovers a dropped connection with a fresh ticket, and shows refused credentials in the status', async function () {
    await load([
      { id: 'app2', type: 'dingtalk-app', appKey: 'dingapptwo', callbackStyle: 'event-subscription' },
      { id: 's2', z: 'tab', type: 'dingtalk-stream-in', app: 'app2', wires: [[]] },
    ]);
    const statuses = (id) => callsOn(helper.getNode(id), 'status').map((c) => String(c[0].text));
    await until('app one connected', () => statuses('s1').some((x) => x.startsWith('dingtalk-stream-in.status.connected')));
    const first = gateway.current('dingappone');
    first.ws.terminate(); // the TCP connection drops
    await until('reconnected', () => gateway.open('dingappone').length === 1 && gateway.current('dingappone') !== first, 5000);
    gateway.state.tickets.size.should.be.belowOrEqual(1); // tickets are single use; at most one is unused (app two's)
    statuses('s1').some((x) => x.startsWith('dingtalk-stream-in.status.reconnecting')).should.be.true();
  });

  it('refused credentials: the DingTalk error in the status, retried with back-off, not in a loop', async function () {
    // render message parameters (the helper's RED._ returns bare keys) to see the error in the status
    const renderKey = (key, params) => (params && Object.keys(params).length ? `${key} ${JSON.stringify(params)}` : key);
    await helper.load([withHooks((RED) => { RED._ = renderKey; return appModule(RED); }), streamModule], [
      { id: 'tab', type: 'tab' },
      { id: 'app1', type: 'dingtalk-app', appKey: 'dingappone' },
      { id: 's1', z: 'tab', type: 'dingtalk-stream-in', app: 'app1', wires: [[]] },
    ], { app1: { appSecret: 'not-the-secret' } });
    await until('reconnecting status', () => callsOn(helper.getNode('s1'), 'status').some((c) => String(c[0].text).startsWith('dingtalk-stream-in.status.reconnecting')));
    const status = callsOn(helper.getNode('s1'), 'status').map((c) => c[0]).find((x) => String(x.text).startsWith('dingtalk-stream-in.status.reconnecting'));
    status.text.should.containEql('invalidClientIdOrSecret');
    status.fill.should.equal('yellow');
    await settle(1500); // bounded: 1 s, then 2 s of back-off: at most three tries in this time, not a tight loop
    gateway.state.refused.should.be.within(1, 3); // 1 s, then 2 s: no tight loop
  });

  it('without AppSecret: a red status and a warning, no connection', async function () {
    await helper.load([withHooks(appModule), streamModule], [
      { id: 'tab', type: 'tab' },
      { id: 'app1', type: 'dingtalk-app', appKey: 'dingappone' },
      { id: 's1', z: 'tab', type: 'dingtalk-stream-in', app: 'app1', wires: [[]] },
    ], {});
    callsOn(helper.getNode('s1'), 'status')[0][0].should.have.properties({ fill: 'red', text: 'dingtalk-stream-in.status.no-app' });
    await settle(100); // bounded: no connection may be opened
    gateway.state.opens.should.equal(0);
  });
});
