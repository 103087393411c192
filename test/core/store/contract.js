'use strict';
// The store contract (core/store/store-contract.ts), exercised only through its interface so that every
// back end runs the same suite: runStoreContract('sqlite', () => store). Time is real (a back end may
// take its clock from its server), so leases and delays are short or far off, never faked.
require('should');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ids = (claims) => claims.map((c) => c.delivery.eventId);
const LONG = 60_000;

/**
 * Runs the contract suite against a back end. `makeStore()` returns (or resolves with) a new, empty store;
 * the suite closes it after each test. A back end shared by several processes also passes
 * `options.peer(store)`: another instance (another instance id) on the same shared state, closed by the
 * suite too; the instance tests are registered only then (a single-process back end has one instance).
 * `options.reopen(store)` opens the same state again (the same file, the same prefix) after `store` closed.
 */
function runStoreContract(name, makeStore, options = {}) {
  describe(`store contract: ${name}`, function () {
    let store;
    let closed;
    beforeEach(async function () {
      store = await makeStore();
      closed = false;
    });
    afterEach(async function () {
      if (!closed) await store.close();
    });

    describe('inbox', function () {
      it('has an instance id: hand-off state is keyed by it', function () {
        store.instanceId.should.be.a.String().and.not.be.empty();
      });

      it('de-duplicates by event id within a scope, not across scopes', async function () {
        (await store.accept('e1', 'in-a', { n: 1 }, undefined, 'app-a')).should.equal('new');
        (await store.accept('e1', 'in-a', { n: 1 }, undefined, 'app-a')).should.equal('duplicate');
        (await store.accept('e1', 'in-a2', { n: 1 }, undefined, 'app-a')).should.equal('duplicate'); // another receiver, same app
        (await store.accept('e1', 'in-b', { n: 1 }, undefined, 'app-b')).should.equal('new');
        (await store.pendingInbox('in-a2')).should.eql([]);
      });

      it('de-duplicates by content key: the same event under another id is a duplicate', async function () {
        (await store.accept('push-1', 'in', { n: 1 }, 'app-a\u0000k1', 'app-a')).should.equal('new');
        (await store.accept('failed-list-1', 'in', { n: 1 }, 'app-a\u0000k1', 'app-a')).should.equal('duplicate');
        (await store.accept('push-2', 'in', { n: 2 }, 'app-a\u0000k2', 'app-a')).should.equal('new');
        (await store.pendingInbox('in')).map((r) => r.eventId).should.eql(['push-1', 'push-2']);
      });

      it('accepts one of two copies arriving at once', async function () {
        const answers = await Promise.all([
          store.accept('e1', 'in', { n: 1 }, 'app\u0000k', 'app'),
          store.accept('e1', 'in', { n: 1 }, 'app\u0000k', 'app'),
          store.accept('e1-other-id', 'in', { n: 1 }, 'app\u0000k', 'app'),
        ]);
        answers.filter((a) => a === 'new').should.have.length(1);
        (await store.pendingInbox('in')).should.have.length(1);
      });

      it('keeps accepted events pending, in order, until they are marked handed on', async function () {
        for (const id of ['e1', 'e2', 'e3']) await store.accept(id, 'in', { id, text: '王芳' }, undefined, 'app');
        const pending = await store.pendingInbox('in');
        pending.map((r) => r.eventId).should.eql(['e1', 'e2', 'e3']);
        pending.forEach((r) => r.receiver.should.equal('in'));
        JSON.parse(pending[0].message).should.eql({ id: 'e1', text: '王芳' });
        JSON.parse(await store.pendingMessage('in', 'e2')).should.eql({ id: 'e2', text: '王芳' });
        (await store.pendingCount('in')).should.equal(3);

        (await store.markHanded('in', ['e1', 'e3'], (id) => id !== 'e3')).should.equal(1); // e3 no longer done when written
        (await store.pendingInbox('in')).map((r) => r.eventId).should.eql(['e2', 'e3']);
        (await store.pendingMessage('in', 'e1') === undefined).should.be.true();
        (await store.markHanded('in', ['e1'])).should.equal(0); // already handed on
        (await store.pendingCount('in')).should.equal(2);
        // handed on still counts for de-duplication
        (await store.accept('e1', 'in', {}, undefined, 'app')).should.equal('duplicate');
        (await store.pendingInbox('other')).should.eql([]);
      });
    });

    describe('outbox', function () {
      const enqueue = (eventId, delayMs = 0, subscriber = 's') => store.enqueue(subscriber, eventId, 'user_add_org', JSON.stringify({ eventId }), delayMs);

      it('queues once per (subscriber, event)', async function () {
        (await enqueue('e1')).should.equal('new');
        (await enqueue('e1')).should.equal('duplicate');
        (await enqueue('e1', 0, 's2')).should.equal('new');
        (await store.counts('s')).should.eql({ queued: 1, delivered: 0, dead: 0 });
        (await store.queueSize('s2')).should.equal(1);
      });

      it('claims due deliveries earliest first, each once while its lease holds', async function () {
        await enqueue('e1');
        await enqueue('e2');
        await enqueue('later', LONG);
        (await store.nextDueIn('s', false)).should.be.belowOrEqual(5);
        const first = await store.claim('s', { limit: 1, leaseMs: LONG, ordered: false });
        ids(first).should.eql(['e1']);
        first[0].delivery.should.have.properties({ subscriber: 's', eventType: 'user_add_org', state: 'queued', attempts: 0 });
        JSON.parse(first[0].delivery.body).should.eql({ eventId: 'e1' });
        first[0].token.should.be.a.String().and.not.be.empty();
        const second = await store.claim('s', { limit: 10, leaseMs: LONG, ordered: false });
        ids(second).should.eql(['e2']); // e1 is held, `later` is not due
        (await store.claim('s', { limit: 10, leaseMs: LONG, ordered: false })).should.eql([]);
        // next: the not-yet-due delivery, long before either lease ends
        (await store.nextDueIn('s', false)).should.be.above(LONG / 2).and.belowOrEqual(LONG);
        (await store.claim('other', { limit: 10, leaseMs: LONG, ordered: false })).should.eql([]);
        ((await store.nextDueIn('other', false)) === undefined).should.be.true();
      });

      it('makes a delivery claimable again when its lease runs out; the stale token cannot complete it', async function () {
        await enqueue('e1');
        const [stale] = await store.claim('s', { limit: 1, leaseMs: 50, ordered: false });
        (await store.claim('s', { limit: 1, leaseMs: 50, ordered: false })).should.eql([]);
        await sleep(120);
        const [fresh] = await store.claim('s', { limit: 1, leaseMs: LONG, ordered: false });
        fresh.delivery.id.should.equal(stale.delivery.id);
        fresh.token.should.not.equal(stale.token);
        (await store.recordDelivered(stale.delivery.id, stale.token, 200)).should.be.false();
        (await store.recordFailed(stale.delivery.id, stale.token, { error: 'late' })).should.be.false();
        (await store.counts('s')).should.eql({ queued: 1, delivered: 0, dead: 0 });
        (await store.recordDelivered(fresh.delivery.id, fresh.token, 204)).should.be.true();
        (await store.recordDelivered(fresh.delivery.id, fresh.token, 204)).should.be.false(); // once
        (await store.counts('s')).should.eql({ queued: 0, delivered: 1, dead: 0 });
        const [done] = await store.list('s', 'delivered');
        done.should.have.properties({ eventId: 'e1', state: 'delivered', attempts: 1, lastStatus: 204 });
      });

      it('completes with the token of a lease that ran out when nobody claimed the delivery since', async function () {
        await enqueue('e1');
        const [claim] = await store.claim('s', { limit: 1, leaseMs: 30, ordered: false });
        await sleep(80);
        (await store.recordDelivered(claim.delivery.id, claim.token, 200)).should.be.true();
        (await store.claim('s', { limit: 1, leaseMs: LONG, ordered: false })).should.eql([]);
      });

      it('takes a claim given back (released) at once; a stale token cannot give it back', async function () {
        await enqueue('e1');
        const [first] = await store.claim('s', { limit: 1, leaseMs: LONG, ordered: true });
        (await store.release(first.delivery.id, 'not-a-token')).should.be.false();
        (await store.claim('s', { limit: 1, leaseMs: LONG, ordered: true })).should.eql([]);
        (await store.release(first.delivery.id, first.token)).should.be.true();
        const [again] = await store.claim('s', { limit: 1, leaseMs: LONG, ordered: true });
        again.delivery.should.have.properties({ eventId: 'e1', attempts: 0 });
        (await store.release(first.delivery.id, first.token)).should.be.false();
        (await store.recordDelivered(first.delivery.id, first.token, 200)).should.be.false();
        (await store.recordDelivered(again.delivery.id, again.token, 200)).should.be.true();
      });

      it('ordered mode claims only the head, which blocks the rest until it is done', async function () {
        await enqueue('e1');
        await enqueue('e2');
        const options = { limit: 5, leaseMs: LONG, ordered: true };
        const [head] = await store.claim('s', options);
        head.delivery.eventId.should.equal('e1');
        (await store.claim('s', options)).should.eql([]); // head held: e2 waits although due
        (await store.recordFailed(head.delivery.id, head.token, { retryInMs: LONG, status: 503, error: 'HTTP 503' })).should.be.true();
        (await store.claim('s', options)).should.eql([]); // head not due: e2 still waits
        (await store.nextDueIn('s', true)).should.be.above(LONG / 2);
        (await store.nextDueIn('s', false)).should.be.belowOrEqual(5); // unordered, e2 would be due
        await store.wakeAll('s');
        const [again] = await store.claim('s', options);
        again.delivery.should.have.properties({ eventId: 'e1', attempts: 1, lastStatus: 503, lastError: 'HTTP 503' });
        (await store.recordDelivered(again.delivery.id, again.token, 200)).should.be.true();
        ids(await store.claim('s', options)).should.eql(['e2']);
      });

      it('retries, dead-letters and replays', async function () {
        await enqueue('e1');
        await enqueue('e2');
        const claimOne = async () => (await store.claim('s', { limit: 1, leaseMs: LONG, ordered: false }))[0];
        let c = await claimOne();
        c.delivery.eventId.should.equal('e1');
        (await store.recordFailed(c.delivery.id, c.token, { retryInMs: 0, status: 500, error: 'HTTP 500' })).should.be.true();
        c = await claimOne();
        (await store.recordFailed(c.delivery.id, c.token, { retryInMs: 0, error: 'ECONNREFUSED: refused' })).should.be.true();
        // both due again: earliest due first
        const order = ids(await store.claim('s', { limit: 2, leaseMs: 1, ordered: false }));
        order.should.have.length(2);
        await sleep(20);
        c = await claimOne();
        (await store.recordFailed(c.delivery.id, c.token, { status: 410, error: 'HTTP 410' })).should.be.true(); // dead
        (await store.counts('s')).should.eql({ queued: 1, delivered: 0, dead: 1 });
        const [dead] = await store.list('s', 'dead');
        dead.should.have.properties({ id: c.delivery.id, state: 'dead', attempts: c.delivery.attempts + 1, lastStatus: 410, lastError: 'HTTP 410' });
        (await store.replay('s', dead.id + 1000)).should.equal(0);
        (await store.replay('s', dead.id)).should.equal(1);
        (await store.replay('s')).should.equal(0); // nothing dead any more
        (await store.counts('s')).should.eql({ queued: 2, delivered: 0, dead: 0 });
        const replayed = (await store.claim('s', { limit: 5, leaseMs: LONG, ordered: false })).find((x) => x.delivery.id === dead.id);
        replayed.delivery.should.have.properties({ state: 'queued', attempts: 0 });
      });

      it('replays all dead letters of one subscriber', async function () {
        for (const [id, sub] of [['e1', 's'], ['e2', 's'], ['e3', 'x']]) {
          await enqueue(id, 0, sub);
          const [c] = await store.claim(sub, { limit: 1, leaseMs: LONG, ordered: false });
          await store.recordFailed(c.delivery.id, c.token, { error: 'gone' });
        }
        (await store.replay('s')).should.equal(2);
        (await store.counts('s')).should.eql({ queued: 2, delivered: 0, dead: 0 });
        (await store.counts('x')).should.eql({ queued: 0, delivered: 0, dead: 1 });
      });

      it('lists newest first, a page at a time', async function () {
        for (let i = 1; i <= 5; i += 1) await enqueue(`e${i}`);
        (await store.list('s', 'queued')).map((d) => d.eventId).should.eql(['e5', 'e4', 'e3', 'e2', 'e1']);
        (await store.list('s', 'queued', 2, 1)).map((d) => d.eventId).should.eql(['e4', 'e3']);
        (await store.list('s', 'dead')).should.eql([]);
      });
    });

    describe('housekeeping', function () {
      it('prunes handed-on inbox rows and delivered rows before a time, a batch at a time; pending rows stay', async function () {
        for (const id of ['e1', 'e2', 'e3']) await store.accept(id, 'in', {}, undefined, 'app');
        await store.markHanded('in', ['e1', 'e2']);
        (await store.pruneInbox(Date.now() - LONG, 10)).should.equal(0); // not old enough
        (await store.pruneInbox(Date.now() + LONG, 1)).should.equal(1);
        (await store.pruneInbox(Date.now() + LONG, 10)).should.equal(1);
        (await store.pendingInbox('in')).map((r) => r.eventId).should.eql(['e3']);
        (await store.accept('e1', 'in', {}, undefined, 'app')).should.equal('new'); // out of the window now

        for (const id of ['d1', 'd2', 'q1']) await store.enqueue('s', id, 't', '{}', 0);
        for (const c of await store.claim('s', { limit: 2, leaseMs: LONG, ordered: false })) await store.recordDelivered(c.delivery.id, c.token, 200);
        (await store.pruneAllDelivered(Date.now() - LONG, 10)).should.equal(0);
        (await store.pruneAllDelivered(Date.now() + LONG, 10)).should.equal(2);
        (await store.counts('s')).should.eql({ queued: 1, delivered: 0, dead: 0 });
      });

      it('lists subscribers and receivers, drops queues and gives up pending events a batch at a time', async function () {
        for (const id of ['e1', 'e2', 'e3']) await store.enqueue('gone', id, 't', '{}', 0);
        await store.enqueue('kept', 'e1', 't', '{}', 0);
        await store.accept('x1', 'in-gone', {}, undefined, 'app');
        await store.accept('x2', 'in-gone', {}, undefined, 'app');
        await store.accept('x3', 'in-kept', {}, undefined, 'app');
        (await store.subscribers()).sort().should.eql(['gone', 'kept']);
        (await store.receivers()).sort().should.eql(['in-gone', 'in-kept']);
        (await store.queueSize('gone')).should.equal(3);
        (await store.dropQueue('gone', 2)).should.equal(2);
        (await store.dropQueue('gone', 2)).should.equal(1);
        (await store.queueSize('gone')).should.equal(0);
        (await store.subscribers()).should.eql(['kept']);
        (await store.giveUpPending('in-gone', 1)).should.equal(1);
        (await store.pendingCount('in-gone')).should.equal(1);
        (await store.giveUpPending('in-gone', 5)).should.equal(1);
        (await store.pendingInbox('in-gone')).should.eql([]);
        (await store.accept('x1', 'in-gone', {}, undefined, 'app')).should.equal('duplicate'); // still in the window
        (await store.pendingCount('in-kept')).should.equal(1);
      });

      it('keeps orphan marks, the first time seen winning', async function () {
        (await store.orphanMarks()).should.eql([]);
        await store.markOrphan('subscriber', 's1', 1000);
        await store.markOrphan('subscriber', 's1', 2000);
        await store.markOrphan('receiver', 'in1', 3000);
        const marks = (await store.orphanMarks()).sort((a, b) => a.since - b.since);
        marks.should.eql([{ kind: 'subscriber', id: 's1', since: 1000 }, { kind: 'receiver', id: 'in1', since: 3000 }]);
        await store.clearOrphan('subscriber', 's1');
        (await store.orphanMarks()).should.eql([{ kind: 'receiver', id: 'in1', since: 3000 }]);
      });
    });

    describe('counters', function () {
      const MINUTE = 60_000;
      const minuteOf = (ms) => Math.floor(ms / MINUTE) * MINUTE;

      it('adds totals up across batches, keeps the latest time, and starts empty', async function () {
        (await store.readCounts()).should.eql({ totals: {}, latest: {} });
        await store.addCounts({ add: { 'a': 2, 'b': 1 }, latest: { 'a:last': 5000 } });
        await store.addCounts({ add: { 'a': 3, 'zero': 0 }, latest: { 'a:last': 4000 } }); // an older time does not win
        await store.addCounts({ latest: { 'a:last': 7000 } });
        await store.addCounts({});
        (await store.readCounts()).should.eql({ totals: { a: 5, b: 1 }, latest: { 'a:last': 7000 } });
      });

      it('keeps per-minute counts of each name, oldest first, and forgets minutes past the retention', async function () {
        const now = Date.now();
        const m3 = minuteOf(now - 3 * MINUTE);
        const m1 = minuteOf(now - MINUTE);
        await store.addCounts({ minutes: { rx: { [m3]: 2, [m1]: 1 }, other: { [m1]: 9 } } });
        await store.addCounts({ minutes: { rx: { [m1]: 4, [minuteOf(now - 3 * 60 * MINUTE)]: 5 } } });
        (await store.minuteSeries('rx', now - 10 * MINUTE)).should.eql([{ minute: m3, count: 2 }, { minute: m1, count: 5 }]);
        (await store.minuteSeries('rx', now - 2 * MINUTE)).should.eql([{ minute: m1, count: 5 }]);
        (await store.minuteSeries('rx', now - 10 * MINUTE, now - 2 * MINUTE)).should.eql([{ minute: m3, count: 2 }]);
        (await store.minuteSeries('rx', now - 4 * 60 * MINUTE)).should.eql([{ minute: m3, count: 2 }, { minute: m1, count: 5 }]); // 3 h ago: gone
        (await store.minuteSeries('nothing', now - 10 * MINUTE)).should.eql([]);
        (await store.readCounts()).totals.should.eql({}); // minutes are not totals
      });

      it('tells how long the oldest queued delivery has waited', async function () {
        (await store.oldestQueuedAge('s') === undefined).should.be.true();
        await store.enqueue('s', 'e1', 't', '{}', 0);
        await sleep(60);
        await store.enqueue('s', 'e2', 't', '{}', 0);
        const age = await store.oldestQueuedAge('s');
        age.should.be.within(40, 5000);
        const [c] = await store.claim('s', { limit: 1, leaseMs: LONG, ordered: true });
        await store.recordDelivered(c.delivery.id, c.token, 200);
        (await store.oldestQueuedAge('s')).should.be.below(age); // e2 is the oldest now
        (await store.oldestQueuedAge('other') === undefined).should.be.true();
      });

      if (options.reopen) {
        it('keeps what was added, also a batch added just before close', async function () {
          await store.addCounts({ add: { a: 1 } });
          const last = store.addCounts({ add: { a: 2 }, latest: { t: 9 }, minutes: { rx: { [minuteOf(Date.now())]: 3 } } }); // not awaited
          await store.close();
          closed = true;
          await last;
          const again = await options.reopen(store);
          try {
            (await again.readCounts()).should.eql({ totals: { a: 3 }, latest: { t: 9 } });
            (await again.minuteSeries('rx', Date.now() - MINUTE)).map((p) => p.count).should.eql([3]);
          } finally {
            await again.close();
          }
        });
      }
    });

    if (options.peer) {
      describe('two instances on one shared state', function () {
        let peer;
        beforeEach(async function () {
          peer = await options.peer(store);
        });
        afterEach(async function () {
          await peer.close();
        });

        it('share de-duplication but keep their own hand-off state', async function () {
          peer.instanceId.should.not.equal(store.instanceId);
          (await store.accept('e1', 'in', { n: 1 }, 'app\u0000k1', 'app')).should.equal('new');
          (await peer.accept('e1', 'in', { n: 1 }, undefined, 'app')).should.equal('duplicate');
          (await peer.accept('other-id', 'in', { n: 1 }, 'app\u0000k1', 'app')).should.equal('duplicate');
          (await peer.accept('e2', 'in', { n: 2 }, undefined, 'app')).should.equal('new');
          (await store.pendingInbox('in')).map((r) => r.eventId).should.eql(['e1']); // same receiver key, other instance
          (await peer.pendingInbox('in')).map((r) => r.eventId).should.eql(['e2']);
          (await peer.markHanded('in', ['e1'])).should.equal(0); // not the peer's to mark
          (await store.pendingInbox('in')).map((r) => r.eventId).should.eql(['e1']);
        });

        it('share the outbox: one queueing per (subscriber, event), one holder per delivery', async function () {
          (await store.enqueue('s', 'e1', 't', '{}', 0)).should.equal('new');
          (await peer.enqueue('s', 'e1', 't', '{}', 0)).should.equal('duplicate');
          const [mine] = await store.claim('s', { limit: 5, leaseMs: 50, ordered: false });
          (await peer.claim('s', { limit: 5, leaseMs: LONG, ordered: false })).should.eql([]);
          await sleep(120);
          const [theirs] = await peer.claim('s', { limit: 5, leaseMs: LONG, ordered: false });
          theirs.delivery.id.should.equal(mine.delivery.id);
          (await store.recordDelivered(mine.delivery.id, mine.token, 200)).should.be.false();
          (await peer.recordDelivered(theirs.delivery.id, theirs.token, 200)).should.be.true();
          (await store.counts('s')).should.eql({ queued: 0, delivered: 1, dead: 0 });
        });

        it('share the breaker: after the threshold nothing is claimable until the retry, then one probe at a time; a success wakes the queue', async function () {
          for (const id of ['e1', 'e2', 'e3']) await store.enqueue('s', id, 't', '{}', 0);
          const opts = { limit: 5, leaseMs: LONG, ordered: false };
          const [a, b] = await store.claim('s', { ...opts, limit: 2 });
          (await store.recordFailed(a.delivery.id, a.token, { retryInMs: 0, status: 503, breakerThreshold: 2 })).should.be.true();
          (await peer.recordFailed(b.delivery.id, b.token, { retryInMs: 300, status: 503, breakerThreshold: 2 })).should.be.true();
          // Open until b's retry: neither instance may claim, although e1 and e3 are due.
          (await peer.claim('s', opts)).should.eql([]);
          (await store.claim('s', opts)).should.eql([]);
          (await store.nextDueIn('s', false)).should.be.above(100);
          await sleep(350);
          const probes = await peer.claim('s', opts);
          probes.should.have.length(1); // one probe, whoever asks
          (await store.claim('s', opts)).should.eql([]); // not while it is in flight
          (await peer.recordDelivered(probes[0].delivery.id, probes[0].token, 200)).should.be.true();
          (await store.claim('s', opts)).should.have.length(2); // closed: everything due again
        });

        it('add their counts up (increments, never a set)', async function () {
          const minute = Math.floor(Date.now() / 60_000) * 60_000;
          await Promise.all([
            store.addCounts({ add: { a: 2 }, latest: { t: 100 }, minutes: { rx: { [minute]: 1 } } }),
            peer.addCounts({ add: { a: 3, b: 1 }, latest: { t: 50 }, minutes: { rx: { [minute]: 2 } } }),
          ]);
          (await peer.readCounts()).should.eql({ totals: { a: 5, b: 1 }, latest: { t: 100 } });
          (await store.minuteSeries('rx', minute)).should.eql([{ minute, count: 3 }]);
        });
      });
    }

    describe('event center', function () {
      /** A received message as the receivers store it. */
      const received = (eventId, eventType, payload, source = 'http') => ({
        topic: eventType,
        payload: { EventType: eventType, eventId, ...payload },
        dingtalk: { eventId, eventType, receivedAt: Date.now(), source },
      });
      const eventIds = (result) => result.events.map((e) => e.eventId);

      it('finds an event by id in every app that received it, with its message, receiver, time and hand-off', async function () {
        const before = Date.now();
        await store.accept('e1', 'in-a', received('e1', 'user_add_org', { userId: ['u1'] }), undefined, 'app-a');
        await store.accept('e1', 'stream:app-b', received('e1', 'user_add_org', { userId: ['u1'] }, 'stream'), undefined, 'app-b');
        await store.accept('e2', 'in-a', received('e2', 'user_add_org', {}), undefined, 'app-a');
        await store.markHanded('in-a', ['e1']);
        const found = await store.searchEvents({ eventId: 'e1' });
        found.complete.should.be.true();
        found.events.map((e) => [e.scope, e.receiver, e.handed]).sort().should.eql([['app-a', 'in-a', true], ['app-b', 'stream:app-b', false]]);
        for (const e of found.events) {
          e.eventId.should.equal('e1');
          e.receivedAt.should.be.within(before - 1000, Date.now() + 1000);
          JSON.parse(e.message).payload.userId.should.eql(['u1']);
        }
        JSON.parse(found.events.find((e) => e.scope === 'app-b').message).dingtalk.source.should.equal('stream');
        (await store.searchEvents({ eventId: 'nope' })).events.should.eql([]);
        (await store.searchEvents({ eventId: 'e1', type: 'user_leave_org' })).events.should.eql([]);
      });

      it('searches by approval instance, user (any field that names one) and type, newest first, limited', async function () {
        // A millisecond apart, so that "newest first" has one answer.
        const accept = async (...args) => {
          await store.accept(...args);
          await sleep(2);
        };
        await accept('a1', 'in', received('a1', 'bpms_instance_change', { processInstanceId: 'pi-1', staffId: 's-9' }));
        await accept('a2', 'in', received('a2', 'attendance_approve_status_change', { mainProcessInstanceId: 'pi-1' }));
        await accept('u1', 'in', received('u1', 'label_user_change', { userIdList: ['s-9', 'x'] }));
        await accept('u2', 'in', received('u2', 'attendance_check_record', { dataList: [{ userId: 's-9', checkTime: 1 }] }));
        await accept('u3', 'in', received('u3', 'chat_add_member', { UserId: ['s-9'] }));
        // The id as a substring of another field, or in a field that names no user, does not match.
        await accept('n1', 'in', received('n1', 'user_add_org', { userId: ['s-90'], title: 's-9' }));
        eventIds(await store.searchEvents({ processInstanceId: 'pi-1' })).should.eql(['a2', 'a1']);
        eventIds(await store.searchEvents({ userId: 's-9' })).should.eql(['u3', 'u2', 'u1', 'a1']);
        eventIds(await store.searchEvents({ userId: 's-9', type: 'label_user_change' })).should.eql(['u1']);
        eventIds(await store.searchEvents({ type: 'user_add_org' })).should.eql(['n1']);
        eventIds(await store.searchEvents({ limit: 2 })).should.eql(['n1', 'u3']);
        const all = await store.searchEvents({});
        all.events.should.have.length(6);
        all.scanned.should.equal(6);
        all.complete.should.be.true();
      });

      it('searches a time range, and looks at no more than scanLimit of its newest events', async function () {
        await store.accept('old', 'in', received('old', 'user_add_org', { userId: ['u-old'] }));
        await sleep(30);
        const cut = (await store.searchEvents({ eventId: 'old' })).events[0].receivedAt + 15;
        await sleep(30);
        await store.accept('mid', 'in', received('mid', 'user_add_org', { userId: ['u-mid'] }));
        await store.accept('new', 'in', received('new', 'user_add_org', { userId: ['u-new'] }));
        eventIds(await store.searchEvents({ from: cut })).should.eql(['new', 'mid']);
        eventIds(await store.searchEvents({ to: cut })).should.eql(['old']);
        eventIds(await store.searchEvents({ to: cut, eventId: 'mid' })).should.eql([]);
        const bounded = await store.searchEvents({ userId: 'u-old', scanLimit: 2 });
        bounded.events.should.eql([]);
        bounded.scanned.should.equal(2);
        bounded.complete.should.be.false();
        eventIds(await store.searchEvents({ userId: 'u-old', scanLimit: 3 })).should.eql(['old']);
      });

      it('forgets pruned events', async function () {
        await store.accept('e1', 'in', received('e1', 'user_add_org', {}), undefined, 'app');
        await store.markHanded('in', ['e1']);
        (await store.pruneInbox(Date.now() + 1000, 10)).should.equal(1);
        (await store.searchEvents({ eventId: 'e1' })).events.should.eql([]);
        (await store.searchEvents({})).events.should.eql([]);
        (await store.eventsPerMinute(Date.now() - 60_000, 2)).should.eql([0, 0]);
      });

      it("lists every subscriber's delivery of an event: state, attempts, last status and error", async function () {
        for (const s of ['s-ok', 's-dead', 's-queued']) await store.enqueue(s, 'e1', 'user_add_org', '{}', 0);
        await store.enqueue('s-ok', 'e2', 'user_add_org', '{}', 0);
        const [ok] = await store.claim('s-ok', { limit: 1, leaseMs: LONG, ordered: false });
        await store.recordDelivered(ok.delivery.id, ok.token, 204);
        const [dead] = await store.claim('s-dead', { limit: 1, leaseMs: LONG, ordered: false });
        await store.recordFailed(dead.delivery.id, dead.token, { status: 500, error: 'HTTP 500' });
        const [retry] = await store.claim('s-queued', { limit: 1, leaseMs: LONG, ordered: false });
        await store.recordFailed(retry.delivery.id, retry.token, { retryInMs: LONG, error: 'connect ECONNREFUSED' });
        const rows = await store.deliveriesOf('e1');
        rows.map((d) => [d.subscriber, d.eventId, d.state, d.attempts, d.lastStatus, d.lastError]).should.eql([
          ['s-dead', 'e1', 'dead', 1, 500, 'HTTP 500'],
          ['s-ok', 'e1', 'delivered', 1, 204, null],
          ['s-queued', 'e1', 'queued', 1, null, 'connect ECONNREFUSED'],
        ]);
        for (const d of rows) d.updatedAt.should.be.aboveOrEqual(d.createdAt);
        (await store.deliveriesOf('e2')).map((d) => d.subscriber).should.eql(['s-ok']);
        (await store.deliveriesOf('nope')).should.eql([]);
      });

      it('counts events per minute over a time range, oldest minute first', async function () {
        const from = Date.now() - 59 * 60_000 - 30_000;
        for (const id of ['e1', 'e2', 'e3']) await store.accept(id, 'in', received(id, 'user_add_org', {}));
        const counts = await store.eventsPerMinute(from, 60);
        counts.should.have.length(60);
        counts[59].should.equal(3); // received in the last minute of the range
        counts.slice(0, 59).every((n) => n === 0).should.be.true();
        (await store.eventsPerMinute(from - 60 * 60_000, 60)).every((n) => n === 0).should.be.true();
      });

    });

    it('rejects calls once closed', async function () {
      await store.close();
      closed = true;
      await store.counts('s').should.be.rejected();
      await store.accept('e1', 'in', {}).should.be.rejected();
      await store.claim('s', { limit: 1, leaseMs: LONG, ordered: false }).should.be.rejected();
    });
  });
}

module.exports = { runStoreContract };
