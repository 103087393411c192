'use strict';
// The store contract suite (contract.js) against the Redis back end: a real redis-server of the suite's
// own (test/support/redis-server.js), a fresh key prefix per test, a second instance for the instance tests.
const { randomBytes } = require('node:crypto');
const { RedisHubStore } = require('../../../core/store/redis/redis-hub-store');
const { startRedis } = require('../../support/redis-server');
const { waitFor } = require('../../support/wait');
const { runStoreContract } = require('./contract');

let server;
before(async function () {
  this.timeout(30_000);
  server = await startRedis();
});
after(async function () {
  await server?.stop();
});

async function open(config) {
  // Ordered mode's settle time (redis-store.test.js) would only slow the shared suite down.
  const store = new RedisHubStore({ url: server.url, ...config }, { orderedSettleMs: 0 });
  await waitFor(() => store.usable, { timeout: 10_000, what: 'the Redis store to connect' });
  return store;
}

runStoreContract('redis', () => open({ prefix: `contract-${randomBytes(4).toString('hex')}` }), {
  peer: (store) => open({ prefix: store.config.prefix, instanceId: `peer-${randomBytes(3).toString('hex')}` }),
  reopen: (store) => open({ prefix: store.config.prefix }),
});
