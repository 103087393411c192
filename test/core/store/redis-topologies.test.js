'use strict';
// The Redis back end through Sentinel and on a Cluster, as node-redis connects to them: real
// redis-server processes (a primary and a Sentinel; three cluster nodes made into one cluster with
// redis-cli). Every key of a hub lies in one hash slot, so its scripts run on one node.
require('should');
const { execFileSync } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { createClient } = require('redis');
const { RedisHubStore } = require('../../../core/store/redis/redis-hub-store');
const { RedisServer, startRedis } = require('../../support/redis-server');
const { waitFor } = require('../../support/wait');

const LONG = 60_000;

/** Accept, queue, claim and deliver once: enough to show the scripts run where the keys are. */
async function roundTrip(store) {
  (await store.accept('e1', 'in', { n: 1 }, 'app\u0000k1', 'app')).should.equal('new');
  (await store.accept('e1', 'in', { n: 1 }, 'app\u0000k1', 'app')).should.equal('duplicate');
  (await store.enqueue('s', 'e1', 't', '{}', 0)).should.equal('new');
  const [claim] = await store.claim('s', { limit: 5, leaseMs: LONG, ordered: false });
  (await store.recordDelivered(claim.delivery.id, claim.token, 200)).should.be.true();
  (await store.counts('s')).should.eql({ queued: 0, delivered: 1, dead: 0 });
  (await store.markHanded('in', ['e1'])).should.equal(1);
}

describe('Redis store back end: Sentinel and Cluster', function () {
  this.timeout(60_000);
  const stop = [];
  afterEach(async function () {
    for (const s of stop.splice(0).reverse()) await (s instanceof RedisHubStore ? s.close() : s.stop());
  });

  it('connects through Sentinel to the primary it names', async function () {
    const primary = await startRedis();
    stop.push(primary);
    const sentinel = await new RedisServer({ sentinel: { name: 'hubprimary', primary } }).start();
    stop.push(sentinel);
    const store = new RedisHubStore({ sentinel: { name: 'hubprimary', sentinels: [{ host: '127.0.0.1', port: sentinel.port }] }, prefix: `s-${randomBytes(3).toString('hex')}` });
    stop.push(store);
    await waitFor(() => store.usable, { timeout: 20_000, what: 'the store to connect through Sentinel' });
    store.target.should.match(/sentinel hubprimary@127\.0\.0\.1:\d+/);
    await roundTrip(store);
    // The events are on the primary.
    const client = createClient({ url: primary.url });
    await client.connect();
    (await client.keys(`{${store.config.prefix}}:in:*`)).should.have.length(1);
    await client.quit();
  });

  it('runs on a Cluster, every key of the hub in the one slot of its hash tag', async function () {
    const nodes = [];
    for (let i = 0; i < 3; i += 1) {
      const node = await startRedis({ config: { 'cluster-enabled': 'yes', 'cluster-config-file': 'nodes.conf', 'cluster-node-timeout': '2000' } });
      nodes.push(node);
      stop.push(node);
    }
    execFileSync('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'pipe' });
    const probe = createClient({ url: nodes[0].url });
    probe.on('error', () => undefined); // the nodes stop at the end
    await probe.connect();
    await waitFor(async () => /cluster_state:ok/.test(await probe.sendCommand(['CLUSTER', 'INFO'])), { timeout: 20_000, what: 'the cluster to be ok' });
    const prefix = `c-${randomBytes(3).toString('hex')}`;
    const store = new RedisHubStore({ cluster: { nodes: [nodes[1].url] }, prefix });
    stop.push(store);
    await waitFor(() => store.usable, { timeout: 20_000, what: 'the store to connect to the cluster' });
    await roundTrip(store);
    // All keys on the node that owns the slot of `{prefix}`; none elsewhere.
    const counts = [];
    for (const node of nodes) {
      const c = createClient({ url: node.url });
      await c.connect();
      counts.push(Number(await c.sendCommand(['DBSIZE'])));
      await c.quit();
    }
    counts.filter((n) => n > 0).should.have.length(1);
    counts.reduce((a, b) => a + b, 0).should.be.above(5);
    await probe.quit();
  });
});
