'use strict';
// The receiver's decisions without HTTP: the order of checks decides which error a request gets.
require('should');
const { CallbackReceiver } = require('../../core/receiver');
const { callbackCryptoFor } = require('../../core/app-config');
const { EventStore } = require('../../core/store/event-store');
const { APP, makePush, openReply } = require('../support/push');
const { contentId } = require('../../core/events');
const { MAX_PAYLOAD_DEPTH } = require('../../core/poison');

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

  describe('poison events: authentic pushes that cannot be events', function () {
    // A receiver whose intake counts its calls: a poison event must never reach the store.
    const counting = () => {
      const store = new EventStore(':memory:');
      const calls = [];
      const r = new CallbackReceiver(() => callbackCryptoFor(settings),
        (eventId, message) => { calls.push(eventId); return store.accept(eventId, 'r1', message); }, { now: () => 1717000000000 });
      return { r, calls };
    };
    // {"a":{"a":…{}…}}: an object, so the depth is the only thing wrong with it.
    const nested = (levels) => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);

    it('answers 200 with a verifiable success, never calls the intake, and reports reason, text, length and id', async function () {
      const { r, calls } = counting();
      const deep = nested(50_000);
      const cases = [['', 'not-json'], ['plain', 'not-json'], ['{"EventType":', 'not-json'], ['[1]', 'not-object'],
        ['null', 'not-object'], ['"x"', 'not-object'], ['17', 'not-object'], [deep, 'too-deep'], ['[' + deep + ']', 'not-object']];
      for (const [text, reason] of cases) {
        const out = await r.handle(requestFor(makePush(text)));
        out.should.have.properties({ kind: 'poison', status: 200, reason, plaintext: text, length: text.length, id: contentId(text), eventType: '', source: 'http', receivedAt: 1717000000000 });
        openReply(out.reply).should.equal('success');
      }
      calls.length.should.equal(0);
      // the receiver is still fine: a real event afterwards goes to the intake
      (await r.handle(requestFor(makePush('{"EventType":"user_add_org","eventId":"after"}')))).kind.should.equal('event');
      calls.should.eql(['after']);
    });

    it('takes MAX_PAYLOAD_DEPTH levels as an event and one more as poison, also in arrays', async function () {
      MAX_PAYLOAD_DEPTH.should.equal(100);
      const { r } = counting();
      const atLimit = `{"EventType":"x","eventId":"at","v":${'['.repeat(MAX_PAYLOAD_DEPTH - 1)}${']'.repeat(MAX_PAYLOAD_DEPTH - 1)}}`;
      (await r.handle(requestFor(makePush(atLimit)))).kind.should.equal('event');
      const over = `{"EventType":"x","eventId":"over","v":${'['.repeat(MAX_PAYLOAD_DEPTH)}${']'.repeat(MAX_PAYLOAD_DEPTH)}}`;
      (await r.handle(requestFor(makePush(over)))).should.have.properties({ kind: 'poison', reason: 'too-deep' });
    });

    it('is only for authentic pushes: a wrong signature or receive id is still rejected', async function () {
      const { r, calls } = counting();
      const bad = requestFor(makePush('plain'));
      bad.query.msg_signature = '0'.repeat(40);
      (await r.handle(bad)).should.have.properties({ kind: 'rejected', code: 'bad-signature' });
      (await r.handle(requestFor(makePush('plain', { receiveId: 'dingsomeoneelse' })))).should.have.properties({ kind: 'rejected', code: 'receive-id-mismatch' });
      // the ISV placeholder id is good for the suite-creation check only, not for an unreadable text
      (await r.handle(requestFor(makePush('plain', { receiveId: 'suite4xxxxxxxxxxxxxxx' })))).should.have.properties({ kind: 'rejected', code: 'receive-id-mismatch' });
      calls.length.should.equal(0);
    });
  });
});
