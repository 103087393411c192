'use strict';
// The receiver's decisions without HTTP: the order of checks decides which error a request gets.
require('should');
const { CallbackReceiver } = require('../../core/receiver');
const { callbackCryptoFor } = require('../../core/app-config');
const { EventStore } = require('../../core/store/event-store');
const { APP, makePush } = require('../support/push');

const settings = { appKey: APP.appKey, corpId: APP.corpId, callbackStyle: 'event-subscription', token: APP.token, aesKey: APP.aesKey };
const receiver = (overrides = {}) => {
  const store = new EventStore(':memory:');
  return new CallbackReceiver(() => callbackCryptoFor({ ...settings, ...overrides }),
    (eventId, message) => store.accept(eventId, 'r1', message), { now: () => 1717000000000, normalise: overrides.normalise });
};
const requestFor = (push, extra = {}) => ({
  method: 'POST',
  query: Object.fromEntries(new URLSearchParams(push.query)),
  body: { kind: 'raw', bytes: Buffer.from(push.body) },
  ...extra,
});

describe('core/receiver', async function () {
  it('emits an event with the message shape of design.md', async function () {
    const p = makePush(JSON.stringify({ EventType: 'user_add_org', eventId: 'e1', CorpId: 'c', EventTime: 1717000000001 }));
    const out = await receiver().handle(requestFor(p));
    out.kind.should.equal('event');
    out.event.should.eql({
      topic: 'user_add_org',
      payload: { EventType: 'user_add_org', eventId: 'e1', CorpId: 'c', EventTime: 1717000000001 },
      dingtalk: { eventId: 'e1', eventType: 'user_add_org', corpId: 'c', eventTime: 1717000000001, receivedAt: 1717000000000, source: 'http' },
    });
    out.reply.timeStamp.should.equal('1717000000000');
  });

  it('accepts a body that was already parsed', async function () {
    const p = makePush('{"EventType":"check_url"}');
    (await receiver().handle(requestFor(p, { body: { kind: 'parsed', value: JSON.parse(p.body) } }))).kind.should.equal('check');
  });

  it('checks the method and the request shape before the configuration', async function () {
    const p = makePush('{"EventType":"check_url"}');
    const r = receiver({ token: '' });
    (await r.handle(requestFor(p, { method: 'GET' }))).code.should.equal('method-not-allowed');
    (await r.handle(requestFor(p, { body: { kind: 'too-large', size: 9 } }))).code.should.equal('too-large');
    (await r.handle(requestFor(p, { query: {} }))).code.should.equal('bad-request');
    (await r.handle(requestFor(p))).should.have.properties({ code: 'not-configured', status: 503, problem: { key: 'errors.no-token' } });
  });

  it('checks the signature before looking at the ciphertext', async function () {
    const p = makePush('{"EventType":"check_url"}');
    const garbage = { ...requestFor(p), body: { kind: 'parsed', value: { encrypt: '!!!' } } };
    (await receiver().handle(garbage)).should.have.properties({ code: 'bad-signature', status: 403 });
  });

  it('prefers msg_signature over signature when both are present', async function () {
    const p = makePush('{"EventType":"check_url"}');
    const req = requestFor(p);
    req.query.signature = '0'.repeat(40);
    (await receiver().handle(req)).kind.should.equal('check');
    req.query.msg_signature = '0'.repeat(40);
    req.query.signature = p.signature;
    (await receiver().handle(req)).code.should.equal('bad-signature');
  });

  it('marks duplicates and does not count URL checks as events', async function () {
    const r = receiver();
    const p = makePush(JSON.stringify({ EventType: 'x', eventId: 'dup' }));
    (await r.handle(requestFor(p))).kind.should.equal('event');
    (await r.handle(requestFor(p))).should.have.properties({ kind: 'duplicate', eventId: 'dup', eventType: 'x', status: 200 });
    const check = makePush('{"EventType":"check_url"}');
    (await r.handle(requestFor(check))).kind.should.equal('check');
    (await r.handle(requestFor(check))).kind.should.equal('check');
  });

  it('normalises legacy payloads when asked, keeping the id of what DingTalk sent', async function () {
    const text = JSON.stringify({ EventType: 'user_add_org', TimeStamp: 1717000001456, UserId: ['u1'], CorpId: 'c' });
    const plain = await receiver().handle(requestFor(makePush(text)));
    const normal = await receiver({ normalise: true }).handle(requestFor(makePush(text)));
    plain.event.payload.should.eql(JSON.parse(text));
    normal.event.payload.should.eql({ EventType: 'user_add_org', EventTime: 1717000001456, timeStamp: 1717000001456, userId: ['u1'], CorpId: 'c' });
    normal.event.dingtalk.eventId.should.equal(plain.event.dingtalk.eventId);
  });

  it('rejects decrypted text that is not a JSON object', async function () {
    for (const text of ['', 'plain', '[1]', 'null']) {
      (await receiver().handle(requestFor(makePush(text)))).should.have.properties({ code: 'bad-payload', status: 400 });
    }
  });
});
