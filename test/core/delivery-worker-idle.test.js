'use strict';
// The delivery worker on the real clock: what it does while it waits. A worker must neither spin
// (0 ms timers re-armed while an attempt is in flight, or while an ordered head waits for its retry)
// nor resend in a loop when the store cannot record an outcome.
require('should');
const { EventStore } = require('../../core/store/event-store');
const { SqliteHubStore } = require('../../core/store/sqlite-hub-store');
const { DeliveryWorker, systemClock, STORE_PAUSE_MS } = require('../../core/delivery/worker');

const { sleep, waitFor } = require('../support/wait');
const answer = (status) => ({ result: { status, headers: {}, body: '' }, ok: status < 300 });

describe('core/delivery worker while waiting (real clock)', function () {
  let store;
  let worker;
  let armed;
  let looks;
  beforeEach(() => {
    store = new EventStore(':memory:');
    armed = 0;
    looks = 0;
    const nextDueAt = store.nextDueAt.bind(store);
    store.nextDueAt = (...args) => { looks += 1; return nextDueAt(...args); };
  });
  afterEach(async () => {
    if (worker) await worker.stop();
    worker = undefined;
    store.close();
  });
  const clock = { now: () => Date.now(), setTimer: (fn, ms) => { armed += 1; return systemClock.setTimer(fn, ms); }, clearTimer: (t) => systemClock.clearTimer(t) };
  const make = (options) => {
    worker = new DeliveryWorker({ subscriber: 's', store: new SqliteHubStore(store), clock, schedule: [0, 60000, 60000], concurrency: 4, ordered: false, ...options });
    return worker;
  };

  it('one attempt in flight: no timer re-armed while it runs', async function () {
    let attempts = 0;
    make({ attempt: async () => { attempts += 1; await sleep(600); return answer(200); } });
    await store.enqueue('s', 'e1', 'user_add_org', '{}', 0);
    worker.start();
    await waitFor(() => attempts === 1, { what: 'the attempt started' });
    armed = 0;
    looks = 0;
    await sleep(400); // bounded: the observation window; the attempt (600 ms) is still running
    attempts.should.equal(1);
    armed.should.be.belowOrEqual(1);
    looks.should.be.belowOrEqual(2);
  });

  it('ordered: a newer event waits behind the head without a busy loop until the head is due', async function () {
    let attempts = 0;
    make({ ordered: true, attempt: async () => { attempts += 1; return answer(500); } });
    await store.enqueue('s', 'e1', 'user_add_org', '{}', 0);
    worker.start();
    await waitFor(() => attempts === 1 && store.head('s')?.attempts === 1, { what: 'the head failed once' });
    await store.enqueue('s', 'e2', 'user_add_org', '{}', 0); // due now, but behind the failed head
    worker.wake();
    await sleep(50); // bounded: the wake has run
    armed = 0;
    await sleep(400); // bounded: the observation window for a busy loop
    attempts.should.equal(1);
    armed.should.be.belowOrEqual(1);
    store.head('s').should.have.properties({ eventId: 'e1', attempts: 1 });
  });

  it('an outcome the store cannot record: one attempt, a warning, a pause; not a resend loop', async function () {
    let posts = 0;
    const errors = [];
    make({ attempt: async () => { posts += 1; return answer(200); }, onStoreError: (err) => errors.push(err.message) });
    await store.enqueue('s', 'e1', 'user_add_org', '{}', 0);
    let marks = 0;
    store.recordDelivered = () => { marks += 1; return Promise.reject(new Error('SQLITE_FULL: database or disk is full')); };
    worker.start();
    await waitFor(() => errors.length === 1, { what: 'the store error' });
    // bounded "nothing more happens": a new event wakes the worker during the pause (STORE_PAUSE_MS,
    // seconds), and neither the endpoint nor the store is tried again before it ends
    await sleep(300);
    await store.enqueue('s', 'e2', 'user_add_org', '{}', 0);
    worker.wake();
    await sleep(300);
    posts.should.equal(1);
    marks.should.equal(1);
    errors.should.eql(['SQLITE_FULL: database or disk is full']);
    store.counts('s').queued.should.equal(2); // still queued: delivered again once the store works
  });

  it('a delivery the endpoint took but the store could not mark is never sent again; the mark follows once it can', async function () {
    let offset = 0; // moves this test's clock past the store pause
    const shifted = { ...clock, now: () => Date.now() + offset };
    const posts = [];
    const delivered = [];
    worker = new DeliveryWorker({ subscriber: 's', store: new SqliteHubStore(store), clock: shifted, schedule: [0, 60000], concurrency: 4, ordered: false,
      attempt: async (d) => { posts.push(d.eventId); return answer(200); }, onDelivered: (o) => delivered.push(o.delivery.eventId), onStoreError: () => {} });
    await store.enqueue('s', 'e1', 'user_add_org', '{}', 0);
    const record = store.recordDelivered.bind(store);
    let full = true;
    store.recordDelivered = (...args) => (full ? Promise.reject(new Error('SQLITE_FULL: database or disk is full')) : record(...args));
    worker.start();
    await waitFor(() => posts.length === 1, { what: 'the first post' });
    posts.should.eql(['e1']);
    offset += STORE_PAUSE_MS + 1000; // the pause is over, the disk still full
    worker.wake();
    await sleep(100); // bounded: e1 must not be sent again
    posts.should.eql(['e1']); // not sent again: the endpoint has it
    store.counts('s').queued.should.equal(1);
    await store.enqueue('s', 'e2', 'user_add_org', '{}', 0);
    full = false; // room again
    offset += STORE_PAUSE_MS + 1000;
    worker.wake();
    await waitFor(() => store.counts('s').delivered === 2, { what: 'both marked delivered' });
    posts.should.eql(['e1', 'e2']); // e1 once only
    store.counts('s').should.have.properties({ queued: 0, delivered: 2 });
    delivered.sort().should.eql(['e1', 'e2']);
  });

  it('the worker that replaces it (a redeploy) does not send such a delivery again either, given the same map', async function () {
    let offset = 0;
    const shifted = { ...clock, now: () => Date.now() + offset };
    const kept = new Map();
    const posts = [];
    const options = { subscriber: 's', store: new SqliteHubStore(store), clock: shifted, schedule: [0, 60000], concurrency: 4, ordered: false, unrecorded: kept,
      attempt: async (d) => { posts.push(d.eventId); return answer(200); }, onStoreError: () => {} };
    await store.enqueue('s', 'e1', 'user_add_org', '{}', 0);
    const record = store.recordDelivered.bind(store);
    let full = true;
    store.recordDelivered = (...args) => (full ? Promise.reject(new Error('SQLITE_FULL: database or disk is full')) : record(...args));
    const first = new DeliveryWorker(options);
    first.start();
    await waitFor(() => posts.length === 1 && kept.size === 1, { what: 'the post and its unrecorded mark' });
    await first.stop();
    posts.should.eql(['e1']);
    kept.size.should.equal(1);
    worker = new DeliveryWorker(options); // the redeployed node's worker
    worker.start();
    await sleep(100); // bounded: e1 must not be sent again
    posts.should.eql(['e1']); // not again
    full = false;
    offset += STORE_PAUSE_MS + 1000;
    worker.wake();
    await waitFor(() => store.counts('s').delivered === 1, { what: 'the mark written' });
    posts.should.eql(['e1']);
    store.counts('s').should.have.properties({ queued: 0, delivered: 1 });
    kept.size.should.equal(0);
  });
});
