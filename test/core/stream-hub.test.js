'use strict';
// The per-app Stream hub: what happens to an event stored while a deploy replaces the app's
// stream-in nodes (no listener for a moment). It was acknowledged, so DingTalk will not send it again.
require('should');
const { StreamHub } = require('../../core/stream/hub');
const { startFakeGateway, frame, until } = require('../support/fake-gateway');
const { contentId } = require('../../core/events');

describe('core/stream hub', function () {
  let gateway;
  let hub;
  beforeEach(async () => { gateway = await startFakeGateway({ dingapphub: 'hub-secret' }); });
  afterEach(async () => { await gateway.close(); });

  it('an event stored while no node listens is held, and emitted to the nodes present once the flows start', async function () {
    let release;
    const storing = new Promise((r) => { release = r; });
    let intakes = 0;
    hub = new StreamHub({ clientId: 'dingapphub', clientSecret: 'hub-secret', apiUrl: gateway.url }, async () => {
      intakes += 1;
      await storing; // the store is slow to answer…
      return 'new';
    });
    const before = [];
    const old = { onEvent: (m) => before.push(m), onState: () => {} };
    hub.add(old);
    await until('connected', () => gateway.open('dingapphub').length === 1);
    gateway.send(gateway.current('dingapphub'), frame('user_add_org.json'));
    await until('storing', () => intakes === 1);
    await hub.remove(old); // …and a deploy closes the stream-in node meanwhile
    release();
    await new Promise((r) => setTimeout(r, 50));
    before.length.should.equal(0);
    const after = [];
    const replacement = { onEvent: (m) => after.push(m), onState: () => {} };
    hub.add(replacement);
    hub.flushHeld(); // the app node calls this on flows:started
    after.map((m) => m.topic).should.eql(['user_add_org']);
    hub.flushHeld();
    after.length.should.equal(1); // once
    await hub.remove(replacement);
  });

  it('a frame whose data nests too deep is acknowledged SUCCESS, never stored, and reported to the nodes', async function () {
    const intakes = [];
    hub = new StreamHub({ clientId: 'dingapphub', clientSecret: 'hub-secret', apiUrl: gateway.url }, async (eventId) => {
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
