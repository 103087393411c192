'use strict';
// The counters' batcher (core/counters/count-batcher.ts) over a real SQLite store: counts are added in one
// store write a flush, a failing flush is kept and retried (never thrown), the numbers read back are the
// store's plus what was counted since, and a new batcher on the same file starts from them.
require('should');
const path = require('node:path');
const { EventStore } = require('../../core/store/event-store');
const { SqliteHubStore } = require('../../core/store/sqlite-hub-store');
const { CountBatcher } = require('../../core/counters/count-batcher');
const { ReceiverTally, DeliveryTally } = require('../../core/counters/tallies');
const { tempDir } = require('../support/temp');
const { waitFor } = require('../support/wait');

const open = (file) => new SqliteHubStore(new EventStore(file));

describe('CountBatcher', function () {
  let file;
  let store;
  beforeEach(function () {
    file = path.join(tempDir('count-batcher-'), 'hub.sqlite');
    store = open(file);
  });
  afterEach(async function () {
    await store.close().catch(() => undefined);
  });

  it('adds a second of counting in one store write, and reads back totals, latest times and minutes', async function () {
    const writes = [];
    const addCounts = store.addCounts.bind(store);
    store.addCounts = (batch) => { writes.push(batch); return addCounts(batch); };
    const counters = new CountBatcher(store, { flushMs: 50 });
    const rx = new ReceiverTally(counters, 'in', 'dingapp');
    for (let i = 0; i < 500; i++) rx.received('http', 1_000_000 + i);
    rx.duplicate('http', 1_000_100); // earlier than the last new event: the latest time stays
    rx.rejected('bad-signature');
    rx.rejected('bad-signature');
    new DeliveryTally(counters, 'oa').attempt('delivered');
    rx.counts().should.have.properties({ received: 500, duplicates: 1, rejected: 2, lastEventAt: 1_000_499 });
    await waitFor(() => writes.length >= 1, { what: 'a flush' });
    await counters.flush();
    writes.length.should.equal(1); // 504 counts, one write
    const stored = await store.readCounts();
    stored.totals['in:in:dingapp:http'].should.equal(500);
    stored.totals['rej:in:bad-signature'].should.equal(2);
    stored.totals['out:oa:delivered'].should.equal(1);
    stored.latest['last:in'].should.equal(1_000_499);
    (await store.minuteSeries('in', 0, 2_000_000)).should.eql([]); // older than the retention: not kept
    rx.received('stream');
    await counters.flush();
    (await store.minuteSeries('in', Date.now() - 60_000)).map((p) => p.count).should.eql([1]);
    counters.close();
  });

  it('keeps a batch whose write failed and adds it with the next flush, without throwing', async function () {
    const counters = new CountBatcher(store, { flushMs: 20 });
    const errors = [];
    const failing = new CountBatcher(store, { flushMs: 20, onFlushError: (e) => errors.push(e) });
    const addCounts = store.addCounts.bind(store);
    let fail = true;
    store.addCounts = (batch) => (fail ? Promise.reject(new Error('disk full')) : addCounts(batch));
    const tally = new DeliveryTally(failing, 's');
    tally.attempt('dead');
    await failing.flush();
    tally.attempt('dead');
    await failing.flush();
    errors.map((e) => e && e.message).should.eql(['disk full']); // once per failing spell
    tally.counts().dead.should.equal(2); // still shown
    fail = false;
    await failing.flush();
    errors.length.should.equal(2);
    (errors[1] === undefined).should.be.true(); // the spell's end
    (await store.readCounts()).totals.should.eql({ 'out:s:dead': 2 });
    counters.close();
    failing.close();
  });

  it('hands its last batch to the store on close; a new batcher on the file starts from the totals', async function () {
    const counters = new CountBatcher(store, { flushMs: 60_000 });
    const rx = new ReceiverTally(counters, 'in', '');
    rx.received('recovery');
    rx.received('recovery');
    counters.close();
    await store.close();
    store = open(file);
    const again = new CountBatcher(store);
    await again.refresh();
    const counts = new ReceiverTally(again, 'in', '').counts();
    counts.received.should.equal(2);
    counts.sources.should.eql({ recovery: 2 });
    again.close();
  });
});
