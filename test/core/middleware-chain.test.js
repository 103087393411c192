'use strict';
// httpNodeMiddleware in front of the route table's owners, over real HTTP with express, following
// express's own rules for route callbacks (see src/core/http/middleware-chain.ts).
require('should');
const http = require('node:http');
const express = require('express');
const { middlewareList, errorStatus } = require('../../core/http/middleware-chain');
const { routeTableFor } = require('../../core/http/route-table');

async function serveWith(chain, { onMiddlewareError } = {}) {
  const app = express();
  const table = routeTableFor(app);
  table.useNodeMiddleware(middlewareList(chain));
  let handled = 0;
  table.claim('/p', { id: 'r', label: 'r', handler: (req, res) => { handled += 1; res.end(`handled ${req.headers['x-seen'] || ''}`); }, onMiddlewareError });
  app.use((req, res) => res.status(404).end('later route'));
  // express's own error handler, when the owner has none
  app.use((err, req, res, next) => res.status(599).end(`express: ${err.message}`)); // eslint-disable-line no-unused-vars
  const server = http.createServer(app);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    post: async (p = '/p', headers = {}) => {
      const res = await fetch(base + p, { method: 'POST', headers });
      return { status: res.status, text: await res.text() };
    },
    handled: () => handled,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}

describe('core/http/middleware-chain', function () {
  let srv;
  afterEach(() => srv && srv.close());

  it('reads the setting like core http in: a function, an array (nested arrays flattened), nothing else', function () {
    const f = () => {};
    const g = () => {};
    middlewareList(f).should.eql([f]);
    middlewareList([f, [g, 'x']]).should.eql([f, g]);
    middlewareList('f').should.eql([]);
    middlewareList(undefined).should.eql([]);
  });

  it('runs the functions in order before the owner, asynchronous ones too; other paths never see them', async function () {
    const calls = [];
    srv = await serveWith([
      (req, res, next) => { calls.push(`a ${req.url}`); setTimeout(next, 20); },
      (req, res, next) => { calls.push('b'); req.headers['x-seen'] = 'yes'; next(); },
    ]);
    (await srv.post()).should.eql({ status: 200, text: 'handled yes' });
    (await srv.post('/other')).should.eql({ status: 404, text: 'later route' });
    calls.should.eql(['a /p', 'b']);
  });

  it('a function that answers itself ends the request; the owner never runs', async function () {
    srv = await serveWith((req, res) => res.status(403).end('no'));
    (await srv.post()).should.eql({ status: 403, text: 'no' });
    srv.handled().should.equal(0);
  });

  it('next(err) and throws skip plain functions, reach error-handling ones, then the owner\'s error path', async function () {
    const seen = [];
    srv = await serveWith([
      (req, res, next) => { if (req.headers['x-throw']) throw new Error('thrown'); next(new Error('passed')); },
      (req, res, next) => { seen.push('skipped plain'); next(); },
      (err, req, res, next) => { seen.push(`error handler: ${err.message}`); next(err); },
    ], { onMiddlewareError: (err, req, res) => res.writeHead(errorStatus(err)).end(`owner: ${err.message}`) });
    (await srv.post()).should.eql({ status: 500, text: 'owner: passed' });
    (await srv.post('/p', { 'x-throw': '1' })).should.eql({ status: 500, text: 'owner: thrown' });
    seen.should.eql(['error handler: passed', 'error handler: thrown']);
    srv.handled().should.equal(0);
  });

  it('without an owner error path the error goes to express; an error handler may recover with next()', async function () {
    srv = await serveWith([(req, res, next) => next(new Error(req.headers['x-recover'] ? 'recover' : 'fatal')),
      (err, req, res, next) => (err.message === 'recover' ? next() : next(err))]);
    (await srv.post()).should.eql({ status: 599, text: 'express: fatal' });
    (await srv.post('/p', { 'x-recover': '1' })).should.eql({ status: 200, text: 'handled ' });
  });

  it("next('route') leaves the receiver for later routes; a second next() does not run the owner twice", async function () {
    srv = await serveWith((req, res, next) => { if (req.headers['x-skip']) next('route'); else { next(); next(); } });
    (await srv.post('/p', { 'x-skip': '1' })).should.eql({ status: 404, text: 'later route' });
    (await srv.post()).should.eql({ status: 200, text: 'handled ' });
    srv.handled().should.equal(1);
  });

  it('errorStatus answers like express: a 4xx/5xx status or statusCode, else 500', function () {
    errorStatus(Object.assign(new Error('x'), { status: 403 })).should.equal(403);
    errorStatus({ statusCode: 502 }).should.equal(502);
    errorStatus({ status: 302 }).should.equal(500);
    errorStatus('text').should.equal(500);
    errorStatus(null).should.equal(500);
  });
});
