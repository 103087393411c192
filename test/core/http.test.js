'use strict';
// read-body and route-table against real HTTP servers, including the case Node-RED produces with the
// default httpAdminRoot: a JSON body parser in front has already consumed the stream.
require('should');
const http = require('node:http');
const express = require('express');
const bodyParser = require('body-parser');
const { readBody } = require('../../core/http/read-body');
const { RouteTable, routeTableFor, normalisePath } = require('../../core/http/route-table');

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
  });

  it('installs one middleware per app and dispatches by path, leaving other paths to later routes', async function () {
    const app = express();
    const t1 = routeTableFor(app);
    routeTableFor(app).should.equal(t1);
    app._router.stack.filter((l) => l.handle === t1.middleware).length.should.equal(1);
    const hit = (name) => (req, res) => res.end(name);
    t1.add('/a', hit('a')).should.be.true();
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

  it('lets only the owner release a path, and hands it to the next waiting claim', function () {
    const t = new RouteTable();
    const a = () => {};
    const b = () => {};
    let activated = 0;
    t.add('/p', a).should.be.true();
    t.add('/p', a).should.be.true(); // idempotent
    t.add('/p/', b, () => { activated += 1; }).should.be.false();
    t.claims.should.equal(2);
    t.remove('/p', () => {}); // a stranger changes nothing
    t.claims.should.equal(2);
    t.remove('/p', a);
    activated.should.equal(1);
    t.size.should.equal(1);
    t.remove('/p', b);
    t.size.should.equal(0);
    t.claims.should.equal(0);
  });

  it('a waiting claim that is withdrawn is not activated later', function () {
    const t = new RouteTable();
    const a = () => {};
    let activated = 0;
    const b = () => {};
    t.add('/p', a);
    t.add('/p', b, () => { activated += 1; });
    t.remove('/p', b);
    t.remove('/p', a);
    activated.should.equal(0);
    t.size.should.equal(0);
  });
});
