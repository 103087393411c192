'use strict';
// Delivery workers of several instances on one shared store (the Redis back end, a real redis-server):
// a worker looks at its queue now and then (pollMs), so it delivers what another instance queued and
// what an instance that died had claimed, once that claim's lease ends.
require('should');
const { randomBytes } = require('node:crypto');
const { RedisHubStore } = require('../../core/store/redis/redis-hub-store');
const { DeliveryWorker } = require('../../core/delivery/worker');
const { startRedis } = require('../support/redis-server');
const { sleep, waitFor } = require('../support/wait');

const answer = (status) => ({ result: { status, headers: {}, body: '' }, ok: status < 300 });

describe('core/delivery workers on a shared store', function () {
  this.timeout(20_000);
  let server;
  let stores;
  const workers = [];
  before(async function () {
    server = await startRedis();
  });
  after(async function () {
    await server?.stop();
  });
  beforeEach(async function () {
    const prefix = `w-${randomBytes(4).toString('hex')}`;
    stores = [new RedisHubStore({ url: server.url, prefix, instanceId: 'a' }), new RedisHubStore({ url: server.url, prefix, instanceId: 'b' })];
    await waitFor(() => stores.every((s) => s.usable), { timeout: 10_000, what: 'both stores to connect' });
  });
  afterEach(async function () {
    for (const w of workers.splice(0)) await w.stop(100);
    await Promise.all(stores.map((s) => s.close()));
  });
  const make = (store, options) => {
    const w = new DeliveryWorker({ subscriber: 's', store, schedule: [0, 60000], concurrency: 2, ordered: false, ...options });
    workers.push(w);
    w.start();
    return w;
  };

  it('an idle worker delivers what another instance queued (it polls), and without polling it would not', async function () {
    const [a, b] = stores;
    const delivered = [];
    make(b, { pollMs: 100, attempt: async (d) => { delivered.push(d.eventId); return answer(200); } });
    await sleep(50); // bounded: b has looked at an empty queue and is idle
    await a.enqueue('s', 'e1', 't', '{}', 0); // queued by instance a, whose worker is not running
    await waitFor(() => delivered.length === 1, { timeout: 3000, what: 'b to deliver e1' });
    delivered.should.eql(['e1']);

    const idle = [];
    make(b, { subscriber: 's2', attempt: async (d) => { idle.push(d.eventId); return answer(200); } });
    await sleep(50);
    await a.enqueue('s2', 'e2', 't', '{}', 0);
    await sleep(400); // bounded: a worker that does not poll is never told
    idle.should.eql([]);
  });

  it("delivers a dead instance's claimed delivery once its lease ends, once", async function () {
    const [a, b] = stores;
    await a.enqueue('s', 'e1', 't', '{}', 0);
    const [claim] = await a.claim('s', { limit: 1, leaseMs: 300, ordered: false }); // a dies holding it
    const delivered = [];
    make(b, { pollMs: 100, leaseMs: 60_000, attempt: async (d) => { delivered.push(d.eventId); return answer(200); } });
    await sleep(150); // bounded: the lease holds
    delivered.should.eql([]);
    await waitFor(() => delivered.length === 1, { timeout: 3000, what: 'b to deliver after the lease' });
    (await a.recordDelivered(claim.delivery.id, claim.token, 200)).should.be.false(); // a's late word is stale
    await sleep(300); // bounded: nothing is delivered twice
    delivered.should.eql(['e1']);
    (await b.counts('s')).should.eql({ queued: 0, delivered: 1, dead: 0 });
  });
});
