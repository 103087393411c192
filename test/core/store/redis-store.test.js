'use strict';
// What the Redis back end does beyond the shared contract: instances that die, a server that goes away
// and comes back, a server whose settings cannot keep the promise, and the durability condition.
// Real redis-server processes of the test's own (test/support/redis-server.js).
require('should');
const { randomBytes } = require('node:crypto');
const { RedisHubStore } = require('../../../core/store/redis/redis-hub-store');
const { startRedis } = require('../../support/redis-server');
const { waitFor } = require('../../support/wait');

const prefix = () => `t-${randomBytes(4).toString('hex')}`;
const LONG = 60_000;

describe('Redis store back end', function () {
  this.timeout(30_000);
  let server;
  const open = [];
  before(async function () {
    server = await startRedis();
  });
  after(async function () {
    await server?.stop();
  });
  afterEach(async function () {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  function store(config = {}, options = {}) {
    const events = [];
    const s = new RedisHubStore({ url: server.url, prefix: config.prefix ?? prefix(), ...config }, { onEvent: (e) => events.push(e), ...options });
    s.events = events;
    open.push(s);
    return s;
  }
  async function rawCommand(args) {
    const { createClient } = require('redis');
    const c = createClient({ url: server.url });
    await c.connect();
    try {
      return await c.sendCommand(args);
    } finally {
      await c.quit();
    }
  }
  const ready = (s) => waitFor(() => s.usable, { timeout: 10_000, what: 'the store to connect' });

  it('reports what the server runs with when it connects', async function () {
    const s = store();
    await ready(s);
    const up = s.events.find((e) => e.kind === 'redis-up');
    up.info.should.have.properties({ maxmemoryPolicy: 'noeviction', appendonly: 'yes', appendfsync: 'always' });
    up.info.version.should.match(/^\d+\.\d+/);
    up.target.should.match(/^redis:\/\/127\.0\.0\.1:\d+ \{t-[0-9a-f]+\}:$/);
  });

  it('a call made right after opening waits for the first connect instead of failing (a deploy reopens the store)', async function () {
    const s = store();
    (await s.accept('e1', 'in', {}, undefined, 'app')).should.equal('new'); // not "not reachable"
    s.usable.should.be.true();
  });

  it('an instance that died leaves its unhanded events to another, which adopts them once its heartbeat lapses', async function () {
    const p = prefix();
    const a = store({ prefix: p, instanceId: 'a' }, { instanceTimeoutMs: 300 });
    const b = store({ prefix: p, instanceId: 'b' }, { instanceTimeoutMs: 300 });
    await ready(a);
    await ready(b);
    for (const id of ['e1', 'e2', 'e3']) (await a.accept(id, 'in', { id }, undefined, 'app')).should.equal('new');
    (await a.markHanded('in', ['e2'])).should.equal(1);
    (await b.adoptOrphaned('in')).should.equal(0); // a is alive
    await a.close(); // its heartbeat stops: as good as a crash for the others
    open.splice(open.indexOf(a), 1);
    await waitFor(async () => (await b.adoptOrphaned('in')) === 2, { timeout: 5000, what: 'b to adopt a\'s two events' });
    (await b.pendingInbox('in')).map((r) => r.eventId).should.eql(['e1', 'e3']);
    JSON.parse(await b.pendingMessage('in', 'e3')).should.eql({ id: 'e3' });
    (await b.markHanded('in', ['e1', 'e3'])).should.equal(2);
    (await b.pendingCount('in')).should.equal(0);
    (await b.adoptOrphaned('in')).should.equal(0);
  });

  it('ordered mode delivers in acceptance order across instances, waiting briefly for an earlier event queued late', async function () {
    const p = prefix();
    const a = store({ prefix: p, instanceId: 'a' }, { orderedSettleMs: 300 });
    const b = store({ prefix: p, instanceId: 'b' }, { orderedSettleMs: 300 });
    await ready(a);
    await ready(b);
    (await a.accept('e1', 'in', {}, undefined, 'app')).should.equal('new'); // acknowledged first, by a
    (await b.accept('e2', 'in', {}, undefined, 'app')).should.equal('new'); // then e2, by b
    const ordered = { limit: 1, leaseMs: LONG, ordered: true };
    await b.enqueue('s', 'e2', 't', '{}', 0); // b's flow is quicker
    (await b.claim('s', ordered)).should.eql([]); // settling: an earlier event may still come
    (await b.nextDueIn('s', true)).should.be.above(100);
    await a.enqueue('s', 'e1', 't', '{}', 0);
    await waitFor(async () => (await a.nextDueIn('s', true)) <= 0, { timeout: 3000, what: 'the head to settle' });
    const [first] = await a.claim('s', ordered);
    first.delivery.eventId.should.equal('e1');
    (await b.recordDelivered(first.delivery.id, first.token, 200)).should.be.true(); // any instance may record it
    await waitFor(async () => (await b.nextDueIn('s', true)) <= 0, { timeout: 3000, what: 'e2 to settle' });
    const [second] = await b.claim('s', ordered);
    second.delivery.eventId.should.equal('e2');
    // Queued without being accepted (built in the flow): it counts as accepted when queued, last.
    await a.enqueue('s', 'made-in-flow', 't', '{}', 0);
    (await a.list('s', 'queued')).map((d) => d.eventId).should.eql(['made-in-flow', 'e2']);
  });

  it('forgets an instance that died with nothing pending (a restart without receivers leaves no trace)', async function () {
    const p = prefix();
    const gone = store({ prefix: p, instanceId: 'gone' }, { instanceTimeoutMs: 150 });
    await ready(gone);
    await waitFor(async () => (await rawCommand(['ZSCORE', `{${p}}:inst`, 'gone'])) !== null, { timeout: 3000, what: 'its heartbeat' });
    await gone.close();
    open.splice(open.indexOf(gone), 1);
    store({ prefix: p, instanceId: 'alive' }, { instanceTimeoutMs: 150 });
    await waitFor(async () => (await rawCommand(['ZSCORE', `{${p}}:inst`, 'gone'])) === null, { timeout: 3000, what: 'the dead instance to be forgotten' });
    (await rawCommand(['ZSCORE', `{${p}}:inst`, 'alive'])).should.not.be.null();
  });

  it('a server that is down fails calls at once and keeps nothing queued; calls work again after it restarts', async function () {
    const s = store();
    await ready(s);
    await s.enqueue('sub', 'e1', 't', '{}', 0);
    await server.kill();
    await waitFor(() => !s.usable, { timeout: 5000, what: 'the store to notice' });
    const started = Date.now();
    const err = await s.accept('e2', 'in', {}, undefined, 'app').then(() => undefined, (e) => e);
    err.should.have.property('code', 'STORE_UNAVAILABLE');
    (Date.now() - started).should.be.below(1000); // refused at once, not queued until a reconnect
    await s.claim('sub', { limit: 1, leaseMs: LONG, ordered: false }).should.be.rejectedWith({ code: 'STORE_UNAVAILABLE' });
    s.events.filter((e) => e.kind === 'redis-down').should.have.length(1);
    await server.start(); // same port, same files (AOF, appendfsync always)
    await ready(s);
    (await s.counts('sub')).should.eql({ queued: 1, delivered: 0, dead: 0 }); // kept by the AOF
    // the scripts are loaded again on the restarted server (NOSCRIPT -> EVAL)
    (await s.accept('e2', 'in', {}, undefined, 'app')).should.equal('new');
    s.events.map((e) => e.kind).should.eql(['redis-up', 'redis-down', 'redis-up']);
  });

  it('refuses to acknowledge on a server that may evict keys, until it is set to noeviction', async function () {
    const lru = await startRedis({ config: { 'maxmemory-policy': 'allkeys-lru' } });
    try {
      const s = new RedisHubStore({ url: lru.url, prefix: prefix() }, { onEvent: (e) => events.push(e) });
      const events = [];
      open.push(s);
      await waitFor(() => events.some((e) => e.kind === 'redis-refused'), { timeout: 10_000, what: 'the refusal' });
      const refused = events.find((e) => e.kind === 'redis-refused');
      refused.reason.should.equal('eviction');
      refused.message.should.match(/allkeys-lru/).and.match(/noeviction/);
      await s.accept('e1', 'in', {}, undefined, 'app').should.be.rejectedWith({ code: 'STORE_REFUSED' });
      s.usable.should.be.false();
      const { createClient } = require('redis');
      const admin = createClient({ url: lru.url });
      await admin.connect();
      await admin.configSet('maxmemory-policy', 'noeviction');
      await admin.quit();
      await waitFor(() => s.usable, { timeout: 10_000, what: 'the store to accept again' });
      (await s.accept('e1', 'in', {}, undefined, 'app')).should.equal('new');
    } finally {
      await lru.stop();
    }
  });

  it("durability 'wait-aof' on a server without WAITAOF is refused with what to do", async function () {
    const s = store({ durability: 'wait-aof' });
    await waitFor(() => s.events.length > 0, { timeout: 10_000, what: 'the check' });
    const [event] = s.events;
    const version = event.info?.version ?? (await require('redis').createClient({ url: server.url }).connect().then(async (c) => {
      const v = (await c.info('server')).match(/redis_version:(\S+)/)[1];
      await c.quit();
      return v;
    }));
    if (/^7\.[2-9]|^[89]\./.test(version)) {
      // A server that has WAITAOF: the wait holds with appendfsync always.
      event.kind.should.equal('redis-up');
      (await s.accept('e1', 'in', {}, undefined, 'app')).should.equal('new');
    } else {
      event.should.have.properties({ kind: 'redis-refused', reason: 'durability' });
      event.message.should.match(/WAITAOF/).and.match(/7\.2/);
      await s.accept('e1', 'in', {}, undefined, 'app').should.be.rejectedWith({ code: 'STORE_REFUSED' });
    }
  });

  it("durability 'replicas:1' without a replica answers after the bounded wait with a clear error, and the event is kept", async function () {
    const s = store({ durability: 'replicas:1', durabilityTimeoutMs: 200 });
    await ready(s);
    const started = Date.now();
    const err = await s.accept('e1', 'in', { n: 1 }, undefined, 'app').then(() => undefined, (e) => e);
    err.should.have.property('code', 'STORE_UNAVAILABLE');
    err.message.should.match(/0 of 1 Redis replicas/);
    (Date.now() - started).should.be.within(150, 3000);
    // Stored all the same: DingTalk's retry finds a duplicate, and the event is emitted once.
    (await s.pendingInbox('in')).map((r) => r.eventId).should.eql(['e1']);
  });

  it('authenticates with a password from the settings; a wrong one is reported without the password', async function () {
    const locked = await startRedis({ config: { requirepass: 'right-pw-1' } });
    try {
      const good = new RedisHubStore({ url: locked.url, password: 'right-pw-1', prefix: prefix() });
      open.push(good);
      await ready(good);
      (await good.accept('e1', 'in', {}, undefined, 'app')).should.equal('new');
      const events = [];
      const bad = new RedisHubStore({ url: locked.url, password: 'wrong-pw-2', prefix: prefix() }, { onEvent: (e) => events.push(e) });
      open.push(bad);
      await waitFor(() => events.length > 0, { timeout: 10_000, what: 'the refusal to be reported' });
      events[0].kind.should.equal('redis-down');
      events[0].error.should.match(/WRONGPASS|invalid username-password|NOAUTH/i);
      JSON.stringify(events).should.not.match(/wrong-pw-2|right-pw-1/);
      bad.usable.should.be.false();
    } finally {
      await locked.stop();
    }
  });

  it('an accept under way is not listed as pending until it has answered (an adoption pass would emit it twice)', async function () {
    const s = store({ durability: 'replicas:1', durabilityTimeoutMs: 500 });
    await ready(s);
    const answer = s.accept('e1', 'in', { n: 1 }, undefined, 'app').then(() => 'ok', (e) => e.code);
    await new Promise((r) => setTimeout(r, 150)); // stored, waiting for a replica that never comes
    (await s.pendingInbox('in')).should.eql([]);
    (await answer).should.equal('STORE_UNAVAILABLE');
    await new Promise((r) => setImmediate(r));
    // Answered 503, stored all the same: now this instance's to emit (the next adoption pass lists it).
    (await s.pendingInbox('in')).map((r) => r.eventId).should.eql(['e1']);
  });

  it('a slow durability condition holds up neither other calls nor the accepts behind it one by one', async function () {
    // No replica: every WAIT runs out its second. Five accepts at once share waits; meanwhile the
    // deliveries' calls go through the other connection at once.
    const s = store({ durability: 'replicas:1', durabilityTimeoutMs: 1000 });
    await ready(s);
    await s.enqueue('sub', 'q1', 't', '{}', 0);
    const started = Date.now();
    const accepts = ['e1', 'e2', 'e3', 'e4', 'e5'].map((id) => s.accept(id, 'in', {}, undefined, 'app').then(() => 'ok', (e) => e.code));
    await new Promise((r) => setTimeout(r, 100)); // the first wait is under way
    (await s.counts('sub')).should.eql({ queued: 1, delivered: 0, dead: 0 });
    (await s.claim('sub', { limit: 1, leaseMs: LONG, ordered: false })).should.have.length(1);
    (Date.now() - started).should.be.below(800); // not behind the wait
    (await Promise.all(accepts)).should.eql(Array(5).fill('STORE_UNAVAILABLE'));
    (Date.now() - started).should.be.below(3500); // one or two grouped waits, not five in a row
  });

  it('never writes a password into what it reports', async function () {
    const s = store({ url: server.url.replace('redis://', 'redis://hub:s3cret-pw@') });
    await waitFor(() => s.events.length > 0, { timeout: 10_000, what: 'an event' });
    JSON.stringify(s.events).should.not.match(/s3cret-pw/);
    s.target.should.not.match(/s3cret-pw/);
  });
});
