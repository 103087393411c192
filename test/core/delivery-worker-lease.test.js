'use strict';
// The delivery worker takes work through the store contract's leased claims: a delivery whose lease ran
// out (its worker stopped or hung) is claimed and delivered by another worker, and the first worker's late
// outcome changes nothing
// (its fencing token is stale). A failed outcome the store could not record is tried again after the
// store pause, not only when the lease ends.
require('should');
const path = require('node:path');
const { EventStore } = require('../../core/store/event-store');
const { SqliteHubStore } = require('../../core/store/sqlite-hub-store');
const { DeliveryWorker, STORE_PAUSE_MS } = require('../../core/delivery/worker');
const { tempDir } = require('../support/temp');
const { sleep, waitFor } = require('../support/wait');

const answer = (status) => ({ result: { status, headers: {}, body: '' }, ok: status < 300 });

describe('core/delivery worker with leases', function () {
  let store;
  const workers = [];
  beforeEach(() => {
    store = new SqliteHubStore(new EventStore(path.join(tempDir('worker-lease-'), 'hub.sqlite')));
  });
  afterEach(async () => {
    for (const w of workers.splice(0)) await w.stop(100);
    await store.close();
  });
  const make = (options) => {
    const w = new DeliveryWorker({ subscriber: 's', store, schedule: [0, 60000], concurrency: 2, ordered: false, ...options });
    workers.push(w);
    return w;
  };

  it('a lease that runs out lets another worker deliver; the first one\'s late answer is not recorded', async function () {
    const posts = [];
    const reported = { slow: 0, fast: 0 };
    const slow = make({ leaseMs: 100, attempt: async () => { posts.push('slow'); await sleep(400); return answer(200); }, onDelivered: () => { reported.slow += 1; } });
    await store.enqueue('s', 'e1', 'user_add_org', '{}', 0);
    slow.start();
    await waitFor(() => posts.length === 1, { what: 'the slow attempt' });
    // Its node closes (or its process hangs) with the attempt in flight: it claims nothing more. A live
    // worker that claims its own attempt again when the lease ends only takes the newer token.
    await slow.stop(0);
    const fast = make({ leaseMs: 60000, attempt: async () => { posts.push('fast'); await sleep(500); return answer(204); }, onDelivered: () => { reported.fast += 1; } });
    fast.start(); // its lease holds the delivery: nothing to claim yet
    await sleep(30); // bounded: nothing may be claimed while the first lease holds
    posts.should.eql(['slow']);
    await sleep(100); // the first lease has run out
    fast.wake();
    // The slow answer comes while the second attempt (500 ms) holds the newer claim.
    await waitFor(() => reported.fast === 1, { what: 'the second worker delivered' });
    slow.active.should.equal(0);
    posts.should.eql(['slow', 'fast']);
    reported.should.eql({ slow: 0, fast: 1 });
    const [row] = await store.list('s', 'delivered');
    row.should.have.properties({ attempts: 1, lastStatus: 204 }); // the newer claim's outcome, once
  });

  it('a failure the store could not record gives the claim back: retried after the pause, not after the lease', async function () {
    this.timeout(STORE_PAUSE_MS + 10000);
    const posts = [];
    const original = store.events.recordFailed.bind(store.events);
    let full = true;
    store.events.recordFailed = (...args) => (full ? Promise.reject(new Error('SQLITE_FULL: database or disk is full')) : original(...args));
    const w = make({ leaseMs: 600000, attempt: async () => { posts.push(Date.now()); if (posts.length === 1) return answer(500); return answer(200); }, onStoreError: () => { full = false; } });
    await store.enqueue('s', 'e1', 'user_add_org', '{}', 0);
    w.start();
    await waitFor(() => posts.length === 2, { what: 'the retry after the pause', timeout: STORE_PAUSE_MS + 5000 });
    (posts[1] - posts[0]).should.be.within(STORE_PAUSE_MS - 100, STORE_PAUSE_MS + 3000);
    await waitFor(async () => (await store.counts('s')).delivered === 1, { what: 'delivered' });
  });
});
