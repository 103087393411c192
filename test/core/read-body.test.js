'use strict';
// read-body's defences against bodies built to hurt, over real HTTP: compressed bodies (read here or
// already inflated and parsed by a parser in front, as Node-RED's admin app does with httpAdminRoot "/")
// and bodies that never end.
require('should');
const http = require('node:http');
const zlib = require('node:zlib');
const express = require('express');
const bodyParser = require('body-parser');
const { readBody } = require('../../core/http/read-body');

async function serve(app) {
  const server = http.createServer(app);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); } };
}

/** 5 KB of gzip that inflates to a 4.9 MB JSON object with an "encrypt" string. */
const bomb = zlib.gzipSync(JSON.stringify({ encrypt: 'A'.repeat(4.9 * 1024 * 1024) }), { level: 9 });

/** POST with raw control of headers and body; resolves { status, json, ms }. */
function post(port, body, headers) {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/x', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text), ms: Date.now() - started }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('core/http/read-body: compressed and endless bodies', function () {
  let srv;
  afterEach(() => srv && srv.close());

  const app = (limit, options, front) => {
    const a = express();
    if (front) a.use(front);
    a.post('/x', (req, res) => readBody(req, limit, options).then((r) => res.json({
      kind: r.kind,
      size: r.size,
      afterMs: r.afterMs,
      encoding: r.encoding,
      text: r.kind === 'raw' ? r.bytes.toString('utf8') : undefined,
      value: r.kind === 'parsed' ? r.value : undefined,
    })));
    return a;
  };

  it('the bomb really is small on the wire and large inflated', function () {
    bomb.length.should.be.below(6 * 1024);
    zlib.gunzipSync(bomb).length.should.be.above(4.8 * 1024 * 1024);
  });

  it('inflates gzip and deflate bodies it reads itself; refuses an inflated size over the limit without inflating it all', async function () {
    srv = await serve(app(256 * 1024));
    (await post(srv.port, zlib.gzipSync('{"encrypt":"abc"}'), { 'content-encoding': 'gzip' })).json.should.eql({ kind: 'raw', text: '{"encrypt":"abc"}' });
    (await post(srv.port, zlib.deflateSync('{"encrypt":"d"}'), { 'content-encoding': 'deflate' })).json.should.eql({ kind: 'raw', text: '{"encrypt":"d"}' });
    const res = await post(srv.port, bomb, { 'content-encoding': 'gzip' });
    res.json.kind.should.equal('too-large');
    res.json.size.should.be.above(256 * 1024).and.below(1024 * 1024); // stopped soon after the limit
  });

  it('refuses an encoding it cannot decode, and gzip that does not inflate', async function () {
    srv = await serve(app(1024));
    (await post(srv.port, 'xyz', { 'content-encoding': 'br' })).json.should.eql({ kind: 'bad-encoding', encoding: 'br' });
    (await post(srv.port, 'not gzip at all', { 'content-encoding': 'gzip' })).json.should.eql({ kind: 'bad-encoding', encoding: 'gzip' });
  });

  it('measures a body a parser in front inflated and parsed, not its compressed Content-Length', async function () {
    srv = await serve(app(256 * 1024, {}, bodyParser.json({ limit: '5mb' })));
    const res = await post(srv.port, bomb, { 'content-encoding': 'gzip', 'content-length': String(bomb.length) });
    res.json.kind.should.equal('too-large');
    res.json.size.should.be.above(256 * 1024);
    // an honest small body still passes, parsed
    (await post(srv.port, zlib.gzipSync('{"encrypt":"abc"}'), { 'content-encoding': 'gzip' })).json.should.eql({ kind: 'parsed', value: { encrypt: 'abc' } });
  });

  it('gives up on a body that never ends after the deadline', async function () {
    srv = await serve(app(256 * 1024, { timeoutMs: 300 }));
    const started = Date.now();
    const answer = await new Promise((resolve, reject) => {
      const req = http.request({ port: srv.port, host: '127.0.0.1', method: 'POST', path: '/x', headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve(JSON.parse(text)));
      });
      req.on('error', reject);
      req.write('{"encrypt":"');
      const drip = setInterval(() => req.write('A'), 20);
      req.on('close', () => clearInterval(drip));
      setTimeout(() => { clearInterval(drip); req.destroy(); }, 5000);
    });
    answer.should.eql({ kind: 'timeout', afterMs: 300 });
    (Date.now() - started).should.be.within(250, 2000);
  });

  it('a client that hung up before the read began (an asynchronous middleware in front) is aborted at once, not timed out', async function () {
    let answered;
    const result = new Promise((resolve) => { answered = resolve; });
    let hungUp;
    const gone = new Promise((resolve) => { hungUp = resolve; });
    // The middleware goes on only once the client is gone: its 'aborted' event has passed when readBody starts.
    const front = (req, res, next) => { req.once('aborted', () => setImmediate(next)); hungUp(); };
    const a = express();
    a.use(front);
    a.post('/x', (req, res) => {
      const started = Date.now();
      readBody(req, 1024, { timeoutMs: 3000 }).then((r) => answered({ kind: r.kind, ms: Date.now() - started }));
    });
    srv = await serve(a);
    const req = http.request({ port: srv.port, host: '127.0.0.1', method: 'POST', path: '/x', headers: { 'content-type': 'application/json', 'content-length': '100' } });
    req.on('error', () => {});
    req.write('{"encr');
    await gone;
    req.destroy();
    const r = await result;
    r.kind.should.equal('aborted');
    r.ms.should.be.below(1000);
  });

  it('jsonSizeOver counts like JSON.stringify and stops early', function () {
    const { jsonSizeOver } = require('../../core/http/json-size');
    const value = { encrypt: 'abc', n: [1, true, null, { 键: '值' }], e: {} };
    jsonSizeOver(value, 1e9).should.equal(Buffer.byteLength(JSON.stringify(value)));
    const wide = new Array(1e6).fill(0);
    jsonSizeOver(wide, 100).should.be.above(100).and.below(3e6);
    const deep = JSON.parse('['.repeat(100000) + ']'.repeat(100000));
    jsonSizeOver(deep, 1e9).should.equal(200000); // no recursion
  });
});
