'use strict';
// A local DingTalk Stream gateway: the HTTP connections/open endpoint (checks the client id and secret,
// issues single-use tickets) and a `ws` server that accepts each ticket once. Tests push frames down
// a connection and read the ACKs that come back. `hooks.onConnection(conn)` runs in the same tick as the
// upgrade (a frame sent there reaches the client with, or right behind, the handshake reply), and
// `hooks.onAck(conn, ack)` on each ACK.
const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { WebSocketServer } = require('ws');
const { SHARED } = require('./shared');

async function startFakeGateway(apps, hooks = {}) {
  const state = { tickets: new Map(), opens: 0, refused: 0, connections: [], acks: [] };
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (d) => { raw += d; });
    req.on('end', () => {
      if (req.url !== '/v1.0/gateway/connections/open' || req.method !== 'POST') { res.writeHead(404); return res.end(); }
      state.opens += 1;
      const body = JSON.parse(raw || '{}');
      const ok = apps[body.clientId] === body.clientSecret && req.headers.accept === 'application/json'
        && Array.isArray(body.subscriptions) && body.subscriptions.some((s) => s.type === 'EVENT' && s.topic === '*');
      if (!ok) {
        state.refused += 1;
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ code: 'invalidClientIdOrSecret', message: '无效的clientId或者clientSecret' }));
      }
      const ticket = crypto.randomUUID();
      state.tickets.set(ticket, body.clientId);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ endpoint: `ws://127.0.0.1:${server.address().port}/connect`, ticket }));
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url, 'http://x');
    const ticket = url.searchParams.get('ticket');
    const clientId = state.tickets.get(ticket);
    if (url.pathname !== '/connect' || !clientId) { socket.write('HTTP/1.1 401 Unauthorized\r\n\r\n'); return socket.destroy(); }
    state.tickets.delete(ticket); // single use
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = { ws, clientId, ticket, acks: [], closed: false };
      ws.on('message', (m) => {
        const ack = JSON.parse(m.toString());
        conn.acks.push(ack);
        state.acks.push({ clientId, ack });
        hooks.onAck?.(conn, ack);
      });
      ws.on('close', () => { conn.closed = true; });
      state.connections.push(conn);
      hooks.onConnection?.(conn);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const open = (clientId) => state.connections.filter((c) => !c.closed && (!clientId || c.clientId === clientId));
  return {
    state,
    url: `http://127.0.0.1:${server.address().port}`,
    /** The newest open connection (of one client id, if given). */
    current: (clientId) => open(clientId).pop(),
    open,
    send: (conn, frame) => conn.ws.send(JSON.stringify(frame)),
    close: async () => {
      for (const c of state.connections) c.ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A Stream frame from the shared fixtures (fixtures/events/stream/<name>). */
const frame = (name) => JSON.parse(fs.readFileSync(path.join(SHARED, 'fixtures', 'events', 'stream', name), 'utf8'));

/** Polls `fn` until it is true, or fails naming `what`. */
const until = async (what, fn, ms = 5000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

module.exports = { startFakeGateway, frame, until };
