'use strict';
// The delivery worker runs from timers, where an exception ends Node-RED. A store that cannot be read
// (busy, locked by another process) or written must never make it throw: it pauses, tells onStoreError,
// tries again with back-off, and says once when the kind of call that failed works again.
require('should');
const { EventStore } = require('../../core/store/event-store');
const { SqliteHubStore } = require('../../core/store/sqlite-hub-store');
const { StoreBusyError } = require('../../core/store/busy-gate');
const { DeliveryWorker, systemClock, STORE_PAUSE_MS, STORE_RETRY_MIN_MS } = require('../../core/delivery/worker');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const answer = (status) => ({ result: { status, headers: {}, body: '' }, ok: status < 300 });

describe('core/delivery worker when the store fails', function () {
  let store;
  let worker;
  let uncaught;
  const onUncaught = (err) => uncaught.push(err);
  beforeEach(() => {
    store = new EventStore(':memory:');
    uncaught = [];
    // Mocha would report an escaped exception too; recorded here so the test says what happened.
    process.prependListener('uncaughtException', onUncaught);
  });
  afterEach(async () => {
    process.removeListener('uncaughtException', onUncaught);
    if (worker) await worker.stop();
    worker = undefined;
    store.close();
  });

  for (const [read, ordered] of [['dueIds', false], ['get', false], ['nextDueAt', false], ['head', true]]) {
    it(`${read} throwing SQLITE_BUSY (${ordered ? 'ordered' : 'concurrent'}): nothing escapes, retried with back-off, recovered once`, async function () {
      const calls = [];
      const original = store[read].bind(store);
      let busy = true;
      store[read] = (...args) => {
        calls.push(Date.now());
        if (busy) throw new StoreBusyError();
        return original(...args);
      };
      const errors = [];
      let recovered = 0;
      const posts = [];
      worker = new DeliveryWorker({ subscriber: 's', store: new SqliteHubStore(store), schedule: [0, 60000], concurrency: 4, ordered,
        attempt: async (d) => { posts.push(d.eventId); return answer(200); },
        onStoreError: (err) => errors.push(err.code), onStoreRecovered: () => { recovered += 1; } });
      await store.enqueue('s', 'e1', 'user_add_org', '{}', 0);
      const started = Date.now();
      worker.start();
      await sleep(STORE_RETRY_MIN_MS * 3 + 300); // tries at about 0, 500 and 1500 ms
      uncaught.should.eql([]);
      // nextDueAt is asked after the attempts started (to arm the next timer): e1 went out already.
      posts.should.eql(read === 'nextDueAt' ? ['e1'] : []);
      errors.length.should.be.within(2, 4);
      errors.every((c) => c === 'SQLITE_BUSY').should.be.true();
      // For nextDueAt, recording e1's delivery (a write) worked meanwhile: the store did work then.
      recovered.should.equal(read === 'nextDueAt' ? 1 : 0);
      const gaps = calls.map((t, i) => (i === 0 ? t - started : t - calls[i - 1]));
      gaps[1].should.be.aboveOrEqual(STORE_RETRY_MIN_MS - 20); // a pause, not a busy loop
      if (gaps.length > 2) gaps[2].should.be.aboveOrEqual(STORE_RETRY_MIN_MS * 2 - 20); // backing off
      busy = false;
      const errorsBefore = errors.length;
      await sleep(STORE_RETRY_MIN_MS * 4 + 200);
      posts.should.eql(['e1']); // retried and delivered once the store answers
      recovered.should.equal(read === 'nextDueAt' ? 2 : 1);
      errors.length.should.equal(errorsBefore);
      store.counts('s').should.have.properties({ queued: 0, delivered: 1 });
      uncaught.should.eql([]);
    });
  }

  it('a write failure is not ended by reads that work (WAL): recovered only once an outcome is recorded', async function () {
    let offset = 0; // moves this test's clock past the store pause
    const clock = { ...systemClock, now: () => Date.now() + offset };
    const record = store.recordDelivered.bind(store);
    let busy = true;
    store.recordDelivered = (...args) => (busy ? Promise.reject(new StoreBusyError()) : record(...args));
    const events = [];
    const posts = [];
    worker = new DeliveryWorker({ subscriber: 's', store: new SqliteHubStore(store), clock, schedule: [0, 60000], concurrency: 4, ordered: false,
      attempt: async (d) => { posts.push(d.eventId); return answer(200); },
      onStoreError: () => events.push('error'), onStoreRecovered: () => events.push('recovered') });
    await store.enqueue('s', 'e1', 'user_add_org', '{}', 0);
    worker.start();
    await sleep(100);
    offset += STORE_PAUSE_MS + 1000; // the pause is over; reading works, the mark still fails
    await store.enqueue('s', 'e2', 'user_add_org', '{}', 0);
    worker.wake();
    await sleep(100);
    events.length.should.be.aboveOrEqual(2); // e1's mark again, and e2's
    events.should.not.containEql('recovered');
    busy = false;
    offset += STORE_PAUSE_MS + 1000;
    worker.wake();
    await sleep(200);
    events.filter((e) => e === 'recovered').length.should.equal(1);
    events[events.length - 1].should.equal('recovered');
    posts.sort().should.eql(['e1', 'e2']);
    store.counts('s').should.have.properties({ queued: 0, delivered: 2 });
    uncaught.should.eql([]);
  });

  it('the endpoint back while the store is busy: the delivery is reported, and the queue is woken once the store takes writes', async function () {
    let offset = 0; // moves this test's clock past the store pause
    const clock = { ...systemClock, now: () => Date.now() + offset };
    const wakeAll = store.wakeAll.bind(store);
    let busy = true;
    store.wakeAll = (...args) => (busy ? Promise.reject(new StoreBusyError()) : wakeAll(...args));
    const events = [];
    const posts = [];
    worker = new DeliveryWorker({ subscriber: 's', store: new SqliteHubStore(store), clock, schedule: [0, 50, 60000], concurrency: 4, ordered: false, breakerThreshold: 1,
      // e1 fails once (the breaker opens), then the endpoint answers again
      attempt: async (d) => { posts.push(d.eventId); return answer(d.eventId === 'e1' && posts.length === 1 ? 500 : 200); },
      onDelivered: (o) => events.push(`delivered ${o.delivery.eventId}`),
      onStoreError: () => events.push('error'), onStoreRecovered: () => events.push('recovered') });
    await store.enqueue('s', 'e1', 'user_add_org', '{}', 0);
    await store.enqueue('s', 'e2', 'user_add_org', '{}', 60000); // waits for its retry; the endpoint's return wakes it
    worker.start();
    for (let i = 0; i < 100 && !events.includes('error'); i += 1) await sleep(10);
    await sleep(50);
    posts.should.eql(['e1', 'e1']);
    events.should.eql(['delivered e1', 'error']); // recorded and reported, though waking the queue failed
    store.counts('s').should.have.properties({ queued: 1, delivered: 1 });
    busy = false;
    offset += STORE_PAUSE_MS + 1000; // the pause is over (e2's own time, a minute on, is not)
    worker.wake();
    for (let i = 0; i < 100 && !events.includes('recovered'); i += 1) await sleep(10);
    await sleep(50);
    posts.should.eql(['e1', 'e1', 'e2']);
    events.filter((e) => e === 'recovered').should.have.length(1);
    store.counts('s').should.have.properties({ queued: 0, delivered: 2 });
    uncaught.should.eql([]);
  });

  it('a retry timer firing a millisecond early, the clock ticking meanwhile, is still a store pause (no "recovered" while reads fail)', async function () {
    // A scripted clock: timers run when the test says, and `tickOnNextRead` makes the next reading of the
    // clock return the time it was, then move on by 1 ms (a millisecond passing inside pump()).
    let t = 1_000_000;
    let tickOnNextRead = false;
    const timers = [];
    const clock = {
      now: () => {
        const at = t;
        if (tickOnNextRead) {
          tickOnNextRead = false;
          t += 1;
        }
        return at;
      },
      setTimer: (fn, ms) => {
        const timer = { fn, at: t + ms };
        timers.push(timer);
        return timer;
      },
      clearTimer: (timer) => {
        const i = timers.indexOf(timer);
        if (i >= 0) timers.splice(i, 1);
      },
    };
    const original = store.dueIds.bind(store);
    store.dueIds = () => {
      throw new StoreBusyError();
    };
    let recovered = 0;
    const errors = [];
    worker = new DeliveryWorker({ subscriber: 's', store: new SqliteHubStore(store), clock, schedule: [0, 60000], concurrency: 4, ordered: false,
      attempt: async () => answer(200), onStoreError: (err) => errors.push(err.code), onStoreRecovered: () => { recovered += 1; } });
    await store.enqueue('s', 'e1', 'user_add_org', '{}', 0);
    worker.start();
    await sleep(50);
    errors.should.eql(['SQLITE_BUSY']);
    timers.should.have.length(1); // the retry, STORE_RETRY_MIN_MS on
    const retry = timers.shift();
    t = retry.at - 1; // fired a millisecond early...
    tickOnNextRead = true; // ...and the millisecond passes while pump() looks at the clock
    retry.fn();
    await sleep(50);
    recovered.should.equal(0, 'the store still fails: nothing was read from it');
    timers.should.have.length(1); // waiting for the pause's end again
    store.dueIds = original;
    const next = timers.shift();
    t = next.at;
    next.fn();
    await sleep(50);
    recovered.should.equal(1);
    uncaught.should.eql([]);
  });
});
