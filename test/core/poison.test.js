'use strict';
// Reading a decrypted plaintext as an event payload, and what a poison event looks like in a log line.
require('should');
const { MAX_PAYLOAD_DEPTH, deeperThan, readPayload, forLog, poisonEvent, poisonMessage } = require('../../core/poison');
const { contentId } = require('../../core/events');

describe('core/poison', function () {
  it('measures depth without recursion, even a million levels deep', function () {
    const deep = JSON.parse('['.repeat(1_000_000) + ']'.repeat(1_000_000));
    deeperThan(deep, MAX_PAYLOAD_DEPTH).should.be.true();
    deeperThan({ a: [{ b: [1, 2, { c: null }] }], d: 'x' }, 5).should.be.false(); // five levels
    deeperThan({ a: [{ b: [1, 2, { c: null }] }], d: 'x' }, 4).should.be.true();
    deeperThan('text', 0).should.be.false();
    const cyclic = { a: {} };
    cyclic.a.back = cyclic;
    deeperThan(cyclic, MAX_PAYLOAD_DEPTH).should.be.true(); // ends, and is not taken as an event
  });

  it('reads an object payload; names why anything else is not one', function () {
    readPayload('{"EventType":"x","n":[1,{"m":2}]}').should.eql({ ok: true, payload: { EventType: 'x', n: [1, { m: 2 }] } });
    readPayload('{"EventType":').should.eql({ ok: false, reason: 'not-json' });
    readPayload('').should.eql({ ok: false, reason: 'not-json' });
    readPayload('[{}]').should.eql({ ok: false, reason: 'not-object' });
    readPayload('null').should.eql({ ok: false, reason: 'not-object' });
    const levels = (n) => '{"a":' + '['.repeat(n - 1) + ']'.repeat(n - 1) + '}';
    readPayload(levels(MAX_PAYLOAD_DEPTH)).ok.should.be.true();
    readPayload(levels(MAX_PAYLOAD_DEPTH + 1)).should.eql({ ok: false, reason: 'too-deep' });
    readPayload(levels(1_000_000)).should.eql({ ok: false, reason: 'too-deep' });
  });

  it('puts values from a push on one log line: escaped, at most 80 characters, no split surrogate pair', function () {
    forLog('short').should.equal('"short"');
    forLog('a\nb\r\u2028\u2029\u202e\u0000"c"').should.equal('"a\\nb\\r\\u2028\\u2029\\u202e\\u0000\\"c\\""');
    forLog('y'.repeat(81)).should.equal(`"${'y'.repeat(80)}"…`);
    forLog('y'.repeat(79) + '😀😀').should.equal(`"${'y'.repeat(79)}😀"…`);
  });

  it('gives catch nodes the plaintext and the reason', function () {
    const poison = poisonEvent('not-json', 'oops', { source: 'http', receivedAt: 5 });
    poison.should.eql({ reason: 'not-json', plaintext: 'oops', length: 4, id: contentId('oops'), eventType: '', receivedAt: 5, source: 'http' });
    poisonMessage(poison).should.eql({
      topic: '',
      payload: 'oops',
      dingtalk: { eventId: contentId('oops'), eventType: '', receivedAt: 5, source: 'http', poison: 'not-json' },
    });
  });
});
