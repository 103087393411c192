'use strict';
// The freshness window for HTTP pushes by their signed timestamp (replays after the de-dup window).
require('should');
const { checkPushAge, freshnessFor, pushTimeMs, MAX_AHEAD_MS } = require('../../core/push-age');

const DAY = 24 * 3600 * 1000;

describe('core/push-age', function () {
  it('reads 13-digit milliseconds and 10-digit seconds; nothing else', function () {
    pushTimeMs('1608001896814').should.equal(1608001896814);
    pushTimeMs('1783610513').should.equal(1783610513000);
    for (const bad of ['', 'abc', '1.5e12', '-1', '16080018968140000000', ' 1608001896814']) (pushTimeMs(bad) === undefined).should.be.true(bad);
  });

  it('by default accepts exactly what the de-dup window can still recognise as a replay', function () {
    const w = freshnessFor(7 * DAY);
    w.should.eql({ maxAgeMs: 7 * DAY - MAX_AHEAD_MS, maxAheadMs: MAX_AHEAD_MS });
    (w.maxAgeMs + w.maxAheadMs).should.equal(7 * DAY);
    freshnessFor(60_000).should.eql({ maxAgeMs: 30_000, maxAheadMs: 30_000 }); // short windows keep working
    freshnessFor(7 * DAY, 3600_000).maxAgeMs.should.equal(3600_000);
  });

  it('refuses too old, too far ahead and unreadable timestamps', function () {
    const now = 1_800_000_000_000;
    const w = freshnessFor(7 * DAY);
    checkPushAge(String(now - 60_000), now, w).should.eql({ ok: true });
    checkPushAge(String(now + 60_000), now, w).should.eql({ ok: true });
    checkPushAge(String(now - 8 * DAY), now, w).should.eql({ ok: false, problem: 'too-old', ageMs: 8 * DAY });
    checkPushAge(String(now + DAY), now, w).should.eql({ ok: false, problem: 'ahead', ageMs: -DAY });
    checkPushAge(String(now - w.maxAgeMs), now, w).ok.should.be.true(); // the edge is inside
    checkPushAge(String(now - w.maxAgeMs - 1), now, w).ok.should.be.false();
    checkPushAge('soon', now, w).should.eql({ ok: false, problem: 'unreadable' });
  });
});

describe('core/receiver with a freshness window', function () {
  const { CallbackReceiver } = require('../../core/receiver');
  const { callbackCryptoFor } = require('../../core/app-config');
  const { APP, makePush } = require('../support/push');
  const settings = { appKey: APP.appKey, corpId: APP.corpId, callbackStyle: 'event-subscription', token: APP.token, aesKey: APP.aesKey };
  const now = 1_800_000_000_000;
  const stored = [];
  const receiver = new CallbackReceiver(() => callbackCryptoFor(settings), async (id) => { stored.push(id); return 'new'; },
    { now: () => now, freshness: freshnessFor(7 * DAY) });
  const requestFor = (p) => ({ method: 'POST', query: Object.fromEntries(new URLSearchParams(p.query)), body: { kind: 'raw', bytes: Buffer.from(p.body) } });
  const event = JSON.stringify({ EventType: 'user_add_org', eventId: 'e1' });

  it('checks the signature first, then the age, before the intake sees anything', async function () {
    const old = makePush(event, { timestamp: String(now - 8 * DAY) });
    const forged = { ...requestFor(old), query: { ...requestFor(old).query, msg_signature: '0'.repeat(40) } };
    (await receiver.handle(forged)).code.should.equal('bad-signature');
    (await receiver.handle(requestFor(old))).should.have.properties({ kind: 'rejected', status: 403, code: 'bad-timestamp' });
    (await receiver.handle(requestFor(makePush(event, { timestamp: 'x' })))).age.should.have.properties({ problem: 'unreadable' });
    stored.should.eql([]);
    (await receiver.handle(requestFor(makePush(event, { timestamp: String(now - 60_000) })))).kind.should.equal('event');
    stored.should.eql(['e1']);
  });
});
