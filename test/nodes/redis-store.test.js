'use strict';
// `dingtalkStore` in a runtime (node-red-node-test-helper): a wrong setting is refused with what to write
// (and no password in any log); `module: 'redis'` puts acknowledged events in a real redis-server of the
// test's own; while that server is down a receiver answers 503 and receivers and dispatch nodes are red,
// and everything works again once it is back; a server that may evict keys is refused.
require('should');
const { randomBytes } = require('node:crypto');
const { createClient } = require('redis');
const dispatchModule = require('../../nodes/dingtalk-dispatch.js').default;
const { makePush, openReply } = require('../support/push');
const { startRedis } = require('../support/redis-server');
const { waitFor } = require('../support/wait');
const { helper, load, unload, request, standardFlow, standardCredentials, collect, callsOn } = require('../support/runtime');

const PATH = '/dingtalk/events';
const push = (eventId, eventType = 'user_add_org') => {
  const p = makePush(JSON.stringify({ EventType: eventType, eventId, UserId: ['u1'], TimeStamp: String(Date.now()) }));
  return request(`${PATH}?${p.query}`, { body: p.body });
};
const flowWithDispatch = (url) => standardFlow({ extra: [{ id: 'erp', type: 'dingtalk-dispatch', url, wires: [[], []] }] });
const lastStatus = (id) => callsOn(helper.getNode(id), 'status').pop()?.[0] ?? {};
const everyLine = () => ['in', 'app', 'erp'].flatMap((id) => (helper.getNode(id) ? ['log', 'warn', 'error'].flatMap((m) => callsOn(helper.getNode(id), m).map((a) => String(a[0]))) : []));
const linesWith = (key) => everyLine().filter((line) => line.includes(key));

function useStore(dingtalkStore) {
  helper.settings({ ...helper.settings(), dingtalkStore });
}

describe('dingtalkStore in a runtime', function () {
  this.timeout(60_000);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(async function () {
    await unload();
    const { dingtalkStore: _gone, ...rest } = helper.settings();
    helper.settings(rest); // the next test file gets the SQLite default
  });

  describe('a wrong setting', function () {
    it('is an error saying what to write, a red status, 503 for pushes; the password is in no log line', async function () {
      useStore({ module: 'redis', config: { url: 'redis://hub:S3cretPw@127.0.0.1:6379', durability: 'replicas:0' } });
      await load(flowWithDispatch('http://127.0.0.1:9/hook'), standardCredentials(), { nodes: [dispatchModule] });
      const advice = callsOn(helper.getNode('in'), 'error').map((a) => String(a[0]));
      advice.should.have.length(1);
      advice[0].should.containEql('dingtalk-event-in.errors.store').and.containEql('dingtalk-app.store.setting.durability').and.containEql('replicas:0');
      lastStatus('in').should.have.properties({ fill: 'red', text: 'dingtalk-event-in.status.store-error' });
      lastStatus('erp').should.have.properties({ fill: 'red', text: 'dingtalk-dispatch.status.not-configured' });
      callsOn(helper.getNode('erp'), 'error').map((a) => String(a[0])).join('\n').should.containEql('dingtalk-app.store.setting.durability');
      const res = await push('evt-bad-setting');
      res.status.should.equal(503);
      everyLine().join('\n').should.not.containEql('S3cretPw');
    });

    it('an unknown module names the two there are', async function () {
      useStore({ module: 'mongodb' });
      await load(standardFlow(), standardCredentials());
      const [line] = callsOn(helper.getNode('in'), 'error').map((a) => String(a[0]));
      line.should.containEql('dingtalk-app.store.setting.module').and.containEql('sqlite, redis').and.containEql('mongodb');
    });
  });

  describe('on a real redis-server', function () {
    let server;
    let prefix;
    beforeEach(async function () {
      prefix = `nodes-${randomBytes(4).toString('hex')}`;
    });
    afterEach(async function () {
      await server?.stop();
      server = undefined;
    });

    const keysIn = async (url) => {
      const client = createClient({ url });
      await client.connect();
      try {
        return await client.keys(`{${prefix}}:*`);
      } finally {
        await client.close();
      }
    };

    it('acknowledges into Redis, logs what the server runs with once (not once per node), and emits once', async function () {
      server = await startRedis();
      useStore({ module: 'redis', config: { url: server.url, prefix, commandTimeoutMs: 1000 } });
      await load(flowWithDispatch('http://127.0.0.1:9/hook'), standardCredentials(), { nodes: [dispatchModule] });
      const out = collect();
      await waitFor(() => linesWith('store-redis.up').length > 0, { what: 'the redis-up log line' });
      const res = await push('evt-redis-1');
      res.status.should.equal(200, res.text);
      openReply(res.json).should.equal('success');
      (await push('evt-redis-1')).status.should.equal(200); // a duplicate, recognised in Redis
      await waitFor(() => out.length === 1, { what: 'the event emitted' });
      out[0].dingtalk.eventId.should.equal('evt-redis-1');
      (await keysIn(server.url)).should.containEql(`{${prefix}}:in:app:evt-redis-1`); // the inbox row, scoped to the app
      const up = linesWith('store-redis.up');
      up.should.have.length(1);
      up[0].should.containEql('"appendfsync":"always"').and.containEql('"policy":"noeviction"').and.containEql('"durability":"server"').and.containEql(prefix);
      linesWith('store-redis.warn-').should.eql([]); // appendfsync always: nothing to warn about
      await waitFor(() => String(lastStatus('erp').text).startsWith('dingtalk-dispatch.status.counts'), { what: 'dispatch counts' });
    });

    it('while Redis is down: 503 and red statuses, warned once; back: acknowledged again, statuses cleared', async function () {
      server = await startRedis();
      useStore({ module: 'redis', config: { url: server.url, prefix, commandTimeoutMs: 1000 } });
      await load(flowWithDispatch('http://127.0.0.1:9/hook'), standardCredentials(), { nodes: [dispatchModule] });
      const out = collect();
      await waitFor(() => linesWith('store-redis.up').length > 0, { what: 'connected' });
      (await push('evt-before')).status.should.equal(200);

      await server.kill();
      await waitFor(() => lastStatus('in').text === 'dingtalk-event-in.status.store-down', { what: 'the receiver red' });
      lastStatus('in').fill.should.equal('red');
      await waitFor(() => lastStatus('erp').text === 'dingtalk-dispatch.status.store-down', { what: 'dispatch red' });
      const refused = await push('evt-during');
      refused.status.should.equal(503);
      refused.json.error.should.equal('store-unavailable');
      (await push('evt-during-2')).status.should.equal(503);
      lastStatus('in').text.should.equal('dingtalk-event-in.status.store-down'); // the counters do not paint over it
      linesWith('store-redis.down').should.have.length(1);

      await server.start(); // same port, same AOF
      await waitFor(() => String(lastStatus('in').text).startsWith('dingtalk-event-in.status.counts'), {
        timeout: 20_000,
        what: 'the receiver green again',
      });
      lastStatus('in').fill.should.equal('green');
      await waitFor(() => String(lastStatus('erp').text).startsWith('dingtalk-dispatch.status.counts'), { timeout: 15_000, what: 'dispatch counts again' });
      linesWith('store-redis.back').should.have.length(1);
      const again = await push('evt-during'); // DingTalk pushes the refused event again
      again.status.should.equal(200, again.text);
      await waitFor(() => out.length === 2, { what: 'both acknowledged events emitted' });
      out.map((m) => m.dingtalk.eventId).should.eql(['evt-before', 'evt-during']);
      linesWith('store-redis.down').should.have.length(1);
    });

    it('refuses to acknowledge on a server that may evict keys: an error saying what to change, red, 503', async function () {
      server = await startRedis({ config: { 'maxmemory-policy': 'allkeys-lru' } });
      useStore({ module: 'redis', config: { url: server.url, prefix, commandTimeoutMs: 1000 } });
      await load(standardFlow(), standardCredentials());
      await waitFor(() => lastStatus('in').text === 'dingtalk-event-in.status.store-refused', { what: 'the receiver red' });
      const errors = linesWith('store-redis.refused-eviction');
      errors.should.have.length(1);
      errors[0].should.containEql('allkeys-lru');
      (await push('evt-evictable')).status.should.equal(503);
      (await keysIn(server.url)).filter((k) => k.includes('evt-evictable')).should.eql([]);
    });
  });
});
