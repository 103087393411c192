'use strict';
// A real HTTP server around core/receiver (the decision logic of dingtalk-event-in) with an in-memory
// store, for tests that push over the wire: what it accepted is in `events`, what it refused in `rejected`.
const http = require('node:http');
const { CallbackReceiver } = require('../../core/receiver');
const { callbackCryptoFor } = require('../../core/app-config');
const { EventStore } = require('../../core/store/event-store');
const { APP } = require('./push');

async function startReceiverServer(settings = {}) {
  const app = { appKey: APP.appKey, corpId: APP.corpId, callbackStyle: 'event-subscription', token: APP.token, aesKey: APP.aesKey, ...settings };
  const store = new EventStore(':memory:');
  const events = [];
  const rejected = [];
  const receiver = new CallbackReceiver(() => callbackCryptoFor(app), async (eventId, message, contentKey) => {
    const verdict = await store.accept(eventId, 'sim-test', message, contentKey);
    if (verdict === 'new') events.push(message);
    return verdict;
  });
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const query = Object.fromEntries(new URL(req.url, 'http://x').searchParams);
      const outcome = await receiver.handle({ method: req.method, query, body: { kind: 'raw', bytes: Buffer.concat(chunks) } });
      const reply = outcome.kind === 'rejected' ? { error: outcome.code, message: outcome.reason } : outcome.reply;
      if (outcome.kind === 'rejected') rejected.push(outcome);
      res.writeHead(outcome.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/dingtalk/events`,
    app,
    events,
    rejected,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); store.close(); }),
  };
}

/** A server that answers every request with `answer(req)` = { status, body }: for replies that must fail verification. */
async function startFixedServer(answer) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      requests.push({ url: req.url, headers: req.headers, body });
      const { status = 200, body: out = '' } = answer(req);
      res.writeHead(status, { 'content-type': 'application/json' }).end(typeof out === 'string' ? out : JSON.stringify(out));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/cb?app=1`,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

module.exports = { startReceiverServer, startFixedServer };
