'use strict';
// Edge cases of the Redis back end that the shared contract does not reach: what is left in Redis after
// whole lifecycles (nothing may grow without bound over the de-duplication window), ids with the key
// separator in them, and instances whose heartbeat lapsed while they were in fact alive.
// A real redis-server of the test's own (test/support/redis-server.js).
require('should');
const { randomBytes } = require('node:crypto');
const { createClient } = require('redis');
const { RedisHubStore } = require('../../../core/store/redis/redis-hub-store');
const { startRedis } = require('../../support/redis-server');
const { sleep, waitFor } = require('../../support/wait');
const { HandoffTracker } = require('../../../core/handoff/tracker');

const prefix = () => `edge-${randomBytes(4).toString('hex')}`;
const LONG = 60_000;

describe('Redis store back end: edge cases', function () {
  this.timeout(30_000);
  let server;
  let admin;
  const open = [];
  before(async function () {
    server = await startRedis();
    admin = createClient({ url: server.url });
    await admin.connect();
  });
  after(async function () {
    await admin?.quit();
    await server?.stop();
  });
  afterEach(async function () {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  async function store(config = {}, options = {}) {
    const s = new RedisHubStore({ url: server.url, prefix: config.prefix ?? prefix(), ...config }, { orderedSettleMs: 0, ...options });
    open.push(s);
    await waitFor(() => s.usable, { timeout: 10_000, what: 'the store to connect' });
    return s;
  }

  /** Every key of a hub's prefix, with the size of the collections among them. */
  async function keysOf(p) {
    const out = {};
    for await (const batch of admin.scanIterator({ MATCH: `{${p}}:*`, COUNT: 1000 })) {
      for (const key of [].concat(batch)) {
        const type = await admin.type(key);
        const size = type === 'hash' ? await admin.hLen(key) : type === 'zset' ? await admin.zCard(key) : type === 'set' ? await admin.sCard(key) : 1;
        out[key.slice(p.length + 3)] = size;
      }
    }
    return out;
  }

  it('leaves only its counters and the live instance behind after whole inbox and outbox lifecycles', async function () {
    const p = prefix();
    const a = await store({ prefix: p, instanceId: 'a' });
    const claimAll = (sub) => a.claim(sub, { limit: 100, leaseMs: LONG, ordered: false });
    for (let round = 0; round < 3; round += 1) {
      // Inbox: two apps, content keys, handed on, given up, pruned.
      for (let i = 0; i < 20; i += 1) {
        await a.accept(`r${round}-e${i}`, 'in', { i }, `app-a\u0000k${round}-${i}`, 'app-a');
        await a.accept(`r${round}-e${i}`, 'in-b', { i }, undefined, 'app-b');
      }
      await a.markHanded('in', Array.from({ length: 20 }, (_v, i) => `r${round}-e${i}`));
      await a.giveUpPending('in-b', 100);
      // Outbox: delivered, failed then delivered, dead then replayed then delivered, dead and dropped.
      for (let i = 0; i < 20; i += 1) {
        await a.enqueue('s', `r${round}-e${i}`, 't', '{}', 0);
        await a.enqueue('s2', `r${round}-e${i}`, 't', '{}', 0);
      }
      for (const c of await claimAll('s')) {
        if (c.delivery.eventId.endsWith('1')) await a.recordFailed(c.delivery.id, c.token, { retryInMs: 0, status: 503, breakerThreshold: 50 });
        else if (c.delivery.eventId.endsWith('2')) await a.recordFailed(c.delivery.id, c.token, { status: 410 });
        else await a.recordDelivered(c.delivery.id, c.token, 200);
      }
      await a.replay('s');
      for (const c of await claimAll('s')) await a.recordDelivered(c.delivery.id, c.token, 200);
      for (const c of await claimAll('s2')) await a.recordFailed(c.delivery.id, c.token, { error: 'gone', breakerThreshold: 5 });
      await a.dropQueue('s2', 100);
      (await a.counts('s')).should.eql({ queued: 0, delivered: 20, dead: 0 });
      // The window ends.
      while ((await a.pruneInbox(Date.now() + LONG, 7)) > 0);
      while ((await a.pruneAllDelivered(Date.now() + LONG, 7)) > 0);
    }
    await a.subscribers();
    await a.markOrphan('subscriber', 's2', 1);
    await a.clearOrphan('subscriber', 's2');
    const left = await keysOf(p);
    Object.keys(left).sort().should.eql(['fence', 'inst', 'seq:d', 'seq:in']);
    left.inst.should.equal(1);
  });

  it('a duplicate acknowledged by another instance waits for the durability of the original write', async function () {
    // The original accept's WAIT fails (the replica is stopped): that event is not durable yet. A copy
    // reaching another instance must not be acknowledged on the strength of that instance's older writes.
    const primary = await startRedis();
    const replica = await startRedis({ config: { replicaof: `127.0.0.1 ${primary.port}` } });
    const watch = createClient({ url: primary.url });
    await watch.connect();
    try {
      await waitFor(async () => /slave0:.*state=online/.test(await watch.info('replication')), { timeout: 10_000, what: 'the replica to be in sync' });
      const config = { url: primary.url, prefix: prefix(), durability: 'replicas:1', durabilityTimeoutMs: 300 };
      const a = await store({ ...config, instanceId: 'a' });
      const b = await store({ ...config, instanceId: 'b' });
      (await b.accept('warm-up', 'in', {}, undefined, 'app')).should.equal('new'); // b has written before
      replica.child.kill('SIGSTOP');
      const first = await a.accept('e1', 'in', { n: 1 }, undefined, 'app').then(() => undefined, (e) => e);
      first.should.have.property('code', 'STORE_UNAVAILABLE');
      const copy = await b.accept('e1', 'in', { n: 1 }, undefined, 'app').then((v) => v, (e) => e);
      copy.should.have.property('code', 'STORE_UNAVAILABLE'); // not 'duplicate': no replica has e1
    } finally {
      replica.child?.kill('SIGCONT');
      await watch.quit();
      await replica.stop();
      await primary.stop();
    }
  });

  it("adopts the events an instance accepted after its heartbeat lapsed and another had adopted its earlier ones", async function () {
    const p = prefix();
    const a = await store({ prefix: p, instanceId: 'a' }, { instanceTimeoutMs: 300 });
    const b = await store({ prefix: p, instanceId: 'b' }, { instanceTimeoutMs: 300 });
    (await a.accept('e1', 'in', {}, undefined, 'app')).should.equal('new');
    // a stalls (its connection hangs, its event loop is blocked): no heartbeat, as if it had died.
    clearInterval(a.heartbeatTimer);
    await waitFor(async () => (await b.adoptOrphaned('in')) === 1, { timeout: 5000, what: 'b to adopt e1' });
    // a goes on, acknowledges e2, and dies before handing it on.
    (await a.accept('e2', 'in', {}, undefined, 'app')).should.equal('new');
    (await b.pendingCount('in')).should.equal(2);
    await a.close();
    open.splice(open.indexOf(a), 1);
    await waitFor(async () => (await b.adoptOrphaned('in')) === 1, { timeout: 5000, what: 'b to adopt e2' });
    (await b.pendingInbox('in')).map((r) => r.eventId).should.eql(['e1', 'e2']);
  });

  it('emits an event whose acceptance failed after it was stored, once its retry was acknowledged as a duplicate', async function () {
    // A busy server answers the accept after the command timeout: the receiver said 503, the event is
    // stored all the same, and DingTalk's retry is acknowledged as a duplicate (never emitted live).
    const s = await store({ commandTimeoutMs: 200 });
    const sent = [];
    const host = {
      liveNode: () => undefined, newMsgId: (() => { let n = 0; return () => `m${++n}`; })(), now: Date.now,
      watching() {}, stuck() {}, orphaned() {}, markFailed() {},
    };
    const tracker = new HandoffTracker(host, { stuckMs: () => LONG, sweepMs: 20, adoptEveryMs: 20 });
    tracker.register('in', { store: () => s, emit: (m, stamp) => { sent.push(stamp(m)); return true; } });
    tracker.flowsStarted();
    try {
      await s.accept('warm-up', 'in', {}, undefined, 'app'); // scripts loaded, instance known
      await s.markHanded('in', ['warm-up']);
      const busy = admin.eval('local i = 0 while i < 3e7 do i = i + 1 end return i', { keys: [], arguments: [] }); // ~0.5 s
      const message = { topic: 't', payload: {}, dingtalk: { eventId: 'e1', eventType: 't', receivedAt: 1, source: 'http' } };
      const err = await s.accept('e1', 'in', message, undefined, 'app').then(() => undefined, (e) => e);
      err.should.have.property('code', 'STORE_UNAVAILABLE');
      await busy;
      (await s.accept('e1', 'in', message, undefined, 'app')).should.equal('duplicate'); // the retry: 200
      await waitFor(() => sent.some((m) => m.dingtalk.eventId === 'e1'), { timeout: 3000, what: 'e1 to be emitted' });
      await sleep(200); // bounded: later passes emit nothing more
      sent.map((m) => m.dingtalk.eventId).should.eql(['e1']);
      sent[0].dingtalk.redelivered.should.be.true();
    } finally {
      tracker.stop();
    }
  });
});
