'use strict';
// read-body and route-table against real HTTP servers, including the case Node-RED produces with the
// default httpAdminRoot: a JSON body parser in front has already consumed the stream.
require('should');
const http = require('node:http');
const express = require('express');
const bodyParser = require('body-parser');
const { readBody } = require('../../core/http/read-body');
const { RouteTable, routeTableFor, normalisePath, routeKey } = require('../../core/http/route-table');

async function serve(app) {
  const server = http.createServer(app);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${server.address().port}`, close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); } };
}

describe('core/http/read-body', function () {
  let srv;
  afterEach(() => srv && srv.close());

  const echoApp = (limit, front) => {
    const app = express();
    if (front) app.use(front);
    app.post('/x', (req, res) => readBody(req, limit).then((r) => res.json({
      kind: r.kind,
      size: r.size,
      text: r.kind === 'raw' ? r.bytes.toString('utf8') : undefined,
      value: r.kind === 'parsed' ? r.value : undefined,
    })));
    return app;
  };
  const post = (body, type = 'application/json') => fetch(`${srv.base}/x`, { method: 'POST', body, headers: { 'content-type': type } }).then((r) => r.json());

  it('reads an unread stream as raw bytes', async function () {
    srv = await serve(echoApp(100));
    (await post('{"encrypt":"abc"}')).should.eql({ kind: 'raw', text: '{"encrypt":"abc"}' });
  });

  it('uses a body that a parser in front already read, instead of waiting for the stream', async function () {
    srv = await serve(echoApp(100, bodyParser.json()));
    (await post('{"encrypt":"abc"}')).should.eql({ kind: 'parsed', value: { encrypt: 'abc' } });
  });

  it('applies the limit in both cases', async function () {
    srv = await serve(echoApp(10));
    (await post('{"encrypt":"abcdefgh"}')).should.have.properties({ kind: 'too-large', size: 22 });
    await srv.close();
    srv = await serve(echoApp(10, bodyParser.json()));
    (await post('{"encrypt":"abcdefgh"}')).should.have.properties({ kind: 'too-large', size: 22 });
  });
});

describe('core/http/route-table', function () {
  it('normalises paths', function () {
    normalisePath('dingtalk/events/').should.equal('/dingtalk/events');
    normalisePath(' / ').should.equal('/');
    // the table's key decodes escapes, configured or requested alike; a malformed escape stays as it is
    routeKey('/a%20b/').should.equal('/a b');
    routeKey('/%E9%92%89%E9%92%89').should.equal('/钉钉');
    routeKey('/100%').should.equal('/100%');
  });

  it('installs one middleware per app and dispatches by path, leaving other paths to later routes', async function () {
    const app = express();
    const t1 = routeTableFor(app);
    routeTableFor(app).should.equal(t1);
    app._router.stack.filter((l) => l.handle === t1.middleware).length.should.equal(1);
    const hit = (name) => (req, res) => res.end(name);
    t1.claim('/a', { id: 'a', label: 'a', handler: hit('a') }).should.eql({ owner: true });
    app.post('/b', (req, res) => res.end('core'));
    const srv = await serve(app);
    try {
      (await (await fetch(`${srv.base}/a/`, { method: 'POST' })).text()).should.equal('a');
      (await (await fetch(`${srv.base}/a?x=1`, { method: 'GET' })).text()).should.equal('a');
      (await (await fetch(`${srv.base}/b`, { method: 'POST' })).text()).should.equal('core');
      (await fetch(`${srv.base}/c`, { method: 'POST' })).status.should.equal(404);
    } finally {
      await srv.close();
    }
  });

  const claimant = (id, extra = {}) => ({ id, label: `node ${id}`, handler: () => {}, ...extra });

  it('lets only the owner release a path, and hands it to the next waiting claim', function () {
    const t = new RouteTable();
    const a = claimant('a');
    let activated = 0;
    const b = claimant('b', { onActive: () => { activated += 1; } });
    t.claim('/p', a).should.eql({ owner: true });
    t.claim('/p', a).should.eql({ owner: true }); // idempotent
    t.claim('/p/', b).should.eql({ owner: false, holder: 'node a', reserved: false });
    t.holderOf('/p/').should.equal('node a');
    t.claims.should.equal(2);
    t.release('/p', () => {}); // a stranger changes nothing
    t.claims.should.equal(2);
    t.release('/p', a.handler);
    activated.should.equal(1);
    t.size.should.equal(1);
    t.release('/p', b.handler);
    t.size.should.equal(0);
    t.claims.should.equal(0);
  });

  it('a waiting claim that is withdrawn is not activated later', function () {
    const t = new RouteTable();
    let activated = 0;
    const a = claimant('a');
    const b = claimant('b', { onActive: () => { activated += 1; } });
    t.claim('/p', a);
    t.claim('/p', b);
    t.release('/p', b.handler, { reserve: true }).should.be.false(); // only an owner reserves
    t.release('/p', a.handler);
    activated.should.equal(0);
    t.size.should.equal(0);
  });

  it('an owner released for a redeploy keeps its path: its next instance gets it, a waiting claim does not', function () {
    const t = new RouteTable();
    let activated = 0;
    const holders = [];
    const b = claimant('b', { onActive: () => { activated += 1; }, onWaiting: (h) => holders.push(h) });
    const a = claimant('a');
    t.claim('/p', a);
    t.claim('/p', b);
    t.release('/p', a.handler, { reserve: true }).should.be.true();
    t.reserved.should.equal(1);
    // a newcomer behind the reservation learns that it waits on a reservation, not on a running owner
    const c = claimant('c');
    t.claim('/p', c).should.eql({ owner: false, holder: 'node a', reserved: true });
    t.release('/p', c.handler);
    t.claim('/p', claimant('a', { label: 'renamed' })).should.eql({ owner: true });
    t.reserved.should.equal(0);
    holders.should.eql(['renamed']);
    t.settle();
    activated.should.equal(0);
    t.claims.should.equal(2);
  });

  it('a reservation whose owner does not come back ends at settle(), and the waiting claim takes over', function () {
    const t = new RouteTable();
    let activated = 0;
    const a = claimant('a');
    t.claim('/p', a);
    t.claim('/p', claimant('b', { onActive: () => { activated += 1; } }));
    t.release('/p', a.handler, { reserve: true });
    activated.should.equal(0);
    t.settle();
    activated.should.equal(1);
    t.reserved.should.equal(0);
    t.claims.should.equal(1);
  });

  it('an owner redeployed onto another path gives up its reservation at once', function () {
    const t = new RouteTable();
    let activated = 0;
    const a = claimant('a');
    t.claim('/p', a);
    t.claim('/p', claimant('b', { onActive: () => { activated += 1; } }));
    t.release('/p', a.handler, { reserve: true });
    t.claim('/q', claimant('a')).should.eql({ owner: true });
    activated.should.equal(1);
    t.paths().sort().should.eql(['/p', '/q']);
    t.claims.should.equal(2);
  });

  it('a reserved path is not served: requests go on to later routes', async function () {
    const app = express();
    const t = routeTableFor(app);
    const a = claimant('a', { handler: (req, res) => res.end('a') });
    t.claim('/p', a);
    app.use((req, res) => res.status(404).end('later'));
    const srv = await serve(app);
    try {
      (await (await fetch(`${srv.base}/p`, { method: 'POST' })).text()).should.equal('a');
      t.release('/p', a.handler, { reserve: true });
      (await (await fetch(`${srv.base}/p`, { method: 'POST' })).text()).should.equal('later');
    } finally {
      await srv.close();
    }
  });
});
