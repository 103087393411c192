'use strict';
// Counters on Redis shared by two instances (two stores, one prefix, each with its batcher): each adds
// its own counts with increments, and each reads the hub's totals back, so a node's status on either
// instance shows what both counted.
require('should');
const { randomBytes } = require('node:crypto');
const { RedisHubStore } = require('../../../core/store/redis/redis-hub-store');
const { CountBatcher } = require('../../../core/counters/count-batcher');
const { ReceiverTally } = require('../../../core/counters/tallies');
const { startRedis } = require('../../support/redis-server');
const { waitFor } = require('../../support/wait');

describe('counters on Redis shared by two instances', function () {
  let server;
  const open = [];
  before(async function () {
    this.timeout(30_000);
    server = await startRedis();
  });
  after(async function () {
    for (const s of open) await s.close();
    await server?.stop();
  });

  it('add up, and each instance reads the totals of both', async function () {
    const prefix = `counters-${randomBytes(4).toString('hex')}`;
    const stores = ['a', 'b'].map((i) => new RedisHubStore({ url: server.url, prefix, instanceId: `inst-${i}` }));
    open.push(...stores);
    await waitFor(() => stores.every((s) => s.usable), { what: 'both stores to connect' });
    const [a, b] = stores.map((s) => new CountBatcher(s, { flushMs: 20, refreshMs: 50 }));
    const rxA = new ReceiverTally(a, 'in', 'dingapp');
    const rxB = new ReceiverTally(b, 'in', 'dingapp');
    const seen = [];
    // A node's status watches the counts: while someone watches, a shared store is read again now and then.
    a.watch(() => seen.push(rxA.counts().received));
    b.watch(() => undefined);
    for (let i = 0; i < 3; i++) rxA.received('http');
    for (let i = 0; i < 2; i++) rxB.received('http');
    rxB.rejected('bad-signature');
    await waitFor(() => rxA.counts().received === 5 && rxB.counts().received === 5 && rxA.counts().rejected === 1, {
      what: 'both instances to see the 5 events and the rejection',
    });
    seen.should.containEql(5); // told by a read of the store, not only by its own counting
    (await stores[0].readCounts()).totals.should.eql({ 'in:in:dingapp:http': 5, 'rej:in:bad-signature': 1 });
    a.close();
    b.close();
  });
});
