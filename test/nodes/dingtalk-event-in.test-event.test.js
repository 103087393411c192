'use strict';
// The editor's "Send test event" button: POST <admin>/dingtalk-event-in/:id/test makes the runtime push
// a signed, encrypted sample event to the node's own URL over real HTTP (admin and node routes on one
// server, as in Node-RED), and the node emits it with msg.dingtalk.source "test".
const should = require('should');
const { makePush } = require('../support/push');
const { helper, load, unload, request, standardFlow, standardCredentials, collect, settle } = require('../support/runtime');
const { waitFor } = require('../support/wait');
const { sampleEventTypes } = require('../../core/sample-events');

const admin = (path, body) => request(path, { body: JSON.stringify(body ?? {}) });

describe('dingtalk-event-in "Send test event"', function () {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => unload());

  it('pushes the chosen sample type through the real path and crypto; the flow gets it with source "test"', async function () {
    await load(standardFlow(), standardCredentials(), { withAdmin: true });
    const out = collect();
    const res = await admin('/dingtalk-event-in/in/test', { type: 'user_add_org' });
    res.status.should.equal(200, res.text);
    res.json.eventType.should.equal('user_add_org');
    res.json.ms.should.be.a.Number();
    await waitFor(() => out.length >= 1, { what: 'the test event emitted' });
    out.length.should.equal(1);
    out[0].topic.should.equal('user_add_org');
    out[0].payload.EventType.should.equal('user_add_org');
    out[0].dingtalk.source.should.equal('test');
    out[0].dingtalk.eventType.should.equal('user_add_org');
  });

  it('defaults to an approval instance change, and every listed sample type is accepted by the receiver', async function () {
    await load(standardFlow(), standardCredentials(), { withAdmin: true });
    const out = collect();
    (await admin('/dingtalk-event-in/in/test')).status.should.equal(200);
    const listed = await helper.request().get('/dingtalk-event-in/sample-types').expect(200);
    const types = listed.body.types.map((t) => t.type);
    types.should.eql(sampleEventTypes().filter((t) => types.includes(t)));
    types.length.should.be.above(30);
    listed.body.groups.length.should.be.above(5);
    for (const entry of listed.body.types) {
      entry.label['zh-CN'].should.be.a.String();
      const res = await admin('/dingtalk-event-in/in/test', { type: entry.type });
      res.status.should.equal(200, `${entry.type}: ${res.text}`);
    }
    await waitFor(() => out.length >= types.filter((t) => !t.startsWith('check_')).length, { what: 'every sample emitted' });
    await settle(100); // bounded: the URL checks must not follow
    out[0].topic.should.equal('bpms_instance_change');
    out.every((m) => m.dingtalk.source === 'test').should.be.true();
    // URL checks are answered by the node and not emitted; every other sample reaches the flow once
    const emitted = types.filter((t) => !['check_url', 'check_create_suite_url', 'check_update_suite_url'].includes(t));
    out.slice(1).map((m) => m.topic).should.eql(emitted);
  });

  it('a push from outside with the header but without the node key stays a normal push', async function () {
    await load(standardFlow(), standardCredentials(), { withAdmin: true });
    const out = collect();
    const p = makePush(JSON.stringify({ EventType: 'user_add_org', eventId: 'outside-1', CorpId: 'ding1', userId: ['u1'] }));
    const res = await request(`/dingtalk/events?${p.query}`, { body: p.body, headers: { 'x-dingtalk-hub-test': 'guess' } });
    res.status.should.equal(200);
    await waitFor(() => out.length >= 1, { what: 'the push emitted' });
    out[0].dingtalk.source.should.equal('http');
  });

  it('says what is wrong: undeployed node, unknown type, app without credentials', async function () {
    await load(standardFlow({ extra: [{ id: 'in2', type: 'dingtalk-event-in', app: 'bare', url: '/other', wires: [[]] },
      { id: 'bare', type: 'dingtalk-app', appKey: 'k', callbackStyle: 'event-subscription' }] }), standardCredentials(), { withAdmin: true });
    const missing = await admin('/dingtalk-event-in/nope/test');
    missing.status.should.equal(404);
    missing.json.error.should.equal('not-deployed');
    const unknown = await admin('/dingtalk-event-in/in/test', { type: 'no_such_event' });
    unknown.status.should.equal(400);
    unknown.json.should.eql({ error: 'unknown-type', params: { type: 'no_such_event' } });
    const bare = await admin('/dingtalk-event-in/in2/test');
    bare.status.should.equal(409);
    bare.json.error.should.equal('app-invalid');
    bare.json.params.reason.key.should.match(/dingtalk-app:dingtalk-app\.errors\.no-token$/);
    should.not.exist(JSON.stringify(bare.json).match(/tOkEn4Tests2026/));
  });

  it('refuses a node that is not listening (its path is taken by another node)', async function () {
    await load(standardFlow({ extra: [{ id: 'twin', type: 'dingtalk-event-in', app: 'app', url: '/dingtalk/events', wires: [[]] }] }),
      standardCredentials(), { withAdmin: true });
    const twin = await admin('/dingtalk-event-in/twin/test');
    twin.status.should.equal(409);
    twin.json.error.should.equal('inactive');
  });
});
