'use strict';
// The per-app Stream hub: a stored event goes to the app's hand-off (emit), also when a deploy replaced
// the app's stream-in nodes while it was being stored (it was acknowledged: DingTalk will not send it
// again); send() gives each listener its own stamped copy, and says when nobody listens.
require('should');
const { StreamHub } = require('../../core/stream/hub');
const { startFakeGateway, frame, until } = require('../support/fake-gateway');
const { contentId } = require('../../core/events');

describe('core/stream hub', function () {
  let gateway;
  beforeEach(async () => { gateway = await startFakeGateway({ dingapphub: 'hub-secret' }); });
  afterEach(async () => { await gateway.close(); });

  it('an event stored while no node listens still goes to the hand-off; send() without a listener says false', async function () {
    let release;
    const storing = new Promise((r) => { release = r; });
    let intakes = 0;
    const emitted = [];
    const hub = new StreamHub({ clientId: 'dingapphub', clientSecret: 'hub-secret', apiUrl: gateway.url }, async () => {
      intakes += 1;
      await storing; // the store is slow to answer…
      return 'new';
    }, (message) => emitted.push(message));
    const before = [];
    let state = '';
    const old = { onEvent: (m) => before.push(m), onState: (s) => { state = s.state; } };
    hub.add(old);
    // 'connected' is reported once the client reads frames (the gateway's open alone is too early)
    await until('connected', () => state === 'connected');
    gateway.send(gateway.current('dingapphub'), frame('user_add_org.json'));
    await until('storing', () => intakes === 1);
    const closing = hub.remove(old); // …and a deploy closes the stream-in node meanwhile
    release();
    await closing;
    await until('handed to emit', () => emitted.length === 1);
    emitted[0].topic.should.equal('user_add_org');
    before.length.should.equal(0);
    hub.send(emitted[0]).should.be.false(); // nobody listens: the tracker keeps it for the next start
  });

  it('send() gives every listener its own copy, each through the stamp', async function () {
    const hub = new StreamHub({ clientId: 'dingapphub', clientSecret: 'hub-secret', apiUrl: gateway.url }, async () => 'new', () => {});
    const a = [];
    const b = [];
    const la = { onEvent: (m) => a.push(m), onState: () => {} };
    const lb = { onEvent: (m) => b.push(m), onState: () => {} };
    hub.add(la);
    hub.add(lb);
    let n = 0;
    const message = { topic: 't', payload: { x: 1 }, dingtalk: { eventId: 'e1', eventType: 't', receivedAt: 1, source: 'stream' } };
    hub.send(message, (m) => Object.assign(m, { _msgid: `m${++n}` })).should.be.true();
    a.length.should.equal(1);
    b.length.should.equal(1);
    a[0].should.not.equal(b[0]);
    [a[0]._msgid, b[0]._msgid].sort().should.eql(['m1', 'm2']);
    b[0].payload.should.eql({ x: 1 });
    await hub.remove(la);
    await hub.remove(lb);
  });

  it('a frame whose data nests too deep is acknowledged SUCCESS, never stored, and reported to the nodes', async function () {
    const intakes = [];
    const hub = new StreamHub({ clientId: 'dingapphub', clientSecret: 'hub-secret', apiUrl: gateway.url }, async (eventId) => {
      intakes.push(eventId);
      return 'new';
    });
    const events = [];
    const poisons = [];
    const listener = { onEvent: (m) => events.push(m), onState: () => {}, onPoison: (p) => poisons.push(p) };
    hub.add(listener);
    await until('connected', () => gateway.open('dingapphub').length === 1);
    const conn = gateway.current('dingapphub');
    const good = frame('user_add_org.json');
    const deepData = '{"a":' + '['.repeat(50_000) + ']'.repeat(50_000) + '}';
    const deep = { ...good, headers: { ...good.headers, messageId: 'deep-1', eventId: 'deep-event' }, data: deepData };
    const noId = { ...deep, headers: { ...deep.headers, messageId: 'deep-2', eventId: undefined } };
    gateway.send(conn, deep);
    gateway.send(conn, noId);
    gateway.send(conn, good);
    await until('three acks', () => conn.acks.length === 3);
    conn.acks.map((a) => [a.headers.messageId, JSON.parse(a.data).status]).should.eql([['deep-1', 'SUCCESS'], ['deep-2', 'SUCCESS'], [good.headers.messageId, 'SUCCESS']]);
    intakes.should.eql([good.headers.eventId]); // the deep one never reached the store
    events.map((m) => m.dingtalk.eventId).should.eql([good.headers.eventId]);
    poisons.length.should.equal(2);
    poisons[1].id.should.equal(contentId(deepData)); // no eventId header: the hash of the data
    poisons[0].should.have.properties({ reason: 'too-deep', plaintext: deepData, length: deepData.length, id: 'deep-event', eventType: 'user_add_org', source: 'stream' });
    poisons[0].receivedAt.should.be.a.Number();

    await hub.remove(listener);
  });
});
