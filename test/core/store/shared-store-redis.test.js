'use strict';
// acquireStore with `dingtalkStore: { module: 'redis' }` against a real redis-server of the test's own:
// one store per Redis configuration, its events told to one user, its health (down / up) to every user.
require('should');
const { randomBytes } = require('node:crypto');
const { acquireStore } = require('../../../core/store/shared-store');
const { parseStoreSetting } = require('../../../core/store/store-settings');
const { startRedis } = require('../../support/redis-server');
const { waitFor } = require('../../support/wait');

describe('core/store shared store on Redis', function () {
  this.timeout(60_000);
  let server;
  before(async function () {
    server = await startRedis();
  });
  after(async function () {
    await server?.stop();
  });

  const setting = (config) => parseStoreSetting({ module: 'redis', config: { url: server.url, commandTimeoutMs: 1000, ...config } }, '/unused.sqlite');

  it('one store per configuration: the same prefix shares it, another prefix is another store', function () {
    const prefix = `shared-${randomBytes(4).toString('hex')}`;
    const a = acquireStore(setting({ prefix }));
    const b = acquireStore(setting({ prefix }));
    const c = acquireStore(setting({ prefix: `${prefix}-other` }));
    try {
      a.store.should.equal(b.store);
      a.store.should.not.equal(c.store);
      a.store.target.should.containEql(prefix);
    } finally {
      a.release();
      b.release();
      c.release();
    }
  });

  it('events reach the longest-standing listener once; health changes reach every user; closed with the last user', async function () {
    const prefix = `health-${randomBytes(4).toString('hex')}`;
    const heard = [];
    const told = { first: 0, second: 0 };
    const first = acquireStore(setting({ prefix }), { onEvent: (e) => heard.push(['first', e.kind]), onHealth: () => (told.first += 1) });
    const second = acquireStore(setting({ prefix }), { onEvent: (e) => heard.push(['second', e.kind]), onHealth: () => (told.second += 1) });
    try {
      await waitFor(() => heard.length === 1, { what: 'redis-up' });
      heard.should.eql([['first', 'redis-up']]);
      first.health().should.eql({ state: 'up' });
      (await first.store.accept('e1', 'in', { a: 1 })).should.equal('new');

      await server.kill();
      await waitFor(() => first.health().state === 'down', { what: 'down' });
      second.health().state.should.equal('down');
      second.health().error.should.be.a.String();
      await first.store.accept('e2', 'in', { a: 2 }).then(
        () => { throw new Error('accepted while the server is down'); },
        (err) => err.code.should.equal('STORE_UNAVAILABLE'),
      );
      first.release(); // the next user hears from now on
      await server.start();
      await waitFor(() => second.health().state === 'up', { timeout: 20_000, what: 'up again' });
      heard.should.eql([['first', 'redis-up'], ['first', 'redis-down'], ['second', 'redis-up']]);
      told.first.should.equal(1); // down (connecting counts as up); not told after letting go
      told.second.should.equal(2); // down, up
      (await second.store.accept('e1', 'in', { a: 1 })).should.equal('duplicate'); // kept across the restart (AOF)
    } finally {
      first.release();
      second.release();
    }
    // Reopened after the last user let go: a new store (a new connection), at first "up" until told otherwise.
    const again = acquireStore(setting({ prefix }));
    try {
      again.store.should.not.equal(second.store);
    } finally {
      again.release();
    }
  });
});
