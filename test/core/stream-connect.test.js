'use strict';
// Connection set-up of the Stream client: a frame sent with the handshake is not lost, and no step of
// an attempt (ticket request, WebSocket upgrade, the whole attempt) can hang it: each expiry is a
// failure that goes through the back-off and a fresh attempt.
require('should');
const http = require('node:http');
const net = require('node:net');
const { StreamClient } = require('../../core/stream/client');
const { startFakeGateway, frame, until } = require('../support/fake-gateway');

// Real time with the back-off shortened 1000-fold (1 s -> 1 ms): reconnects come at once, pings rarely.
const quick = { now: () => Date.now(), setTimer: (fn, ms) => setTimeout(fn, ms / 1000), clearTimer: (t) => clearTimeout(t) };

const listen = (server) => new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
const closeServer = (server) => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); });

/** A connections/open endpoint answering every request with `answer(req, res)`; counts the requests. */
async function ticketServer(answer) {
  const server = http.createServer((req, res) => {
    server.requests += 1;
    req.resume();
    req.on('end', () => answer(req, res));
  });
  server.requests = 0;
  const port = await listen(server);
  return { server, url: `http://127.0.0.1:${port}` };
}

describe('core/stream connect', function () {
  const cleanup = [];
  afterEach(async () => { while (cleanup.length) await cleanup.pop()(); });

  function startClient(options) {
    const events = [];
    const states = [];
    const c = new StreamClient({
      clientId: 'dingappone', clientSecret: 'secret-one', clock: quick, random: () => 0.5,
      onEvent: async (f) => { events.push(f); return 'SUCCESS'; },
      onState: (s) => states.push(s),
      ...options,
    });
    cleanup.push(() => c.stop());
    c.start();
    return { c, events, states };
  }

  /**
   * A TCP server standing in for the WebSocket endpoint (`onSocket` decides what it answers, if
   * anything) behind a ticket endpoint that hands it out; `sockets` are the upgrade connections.
   */
  async function endpointBehindTickets(onSocket) {
    const sockets = [];
    const endpoint = net.createServer((socket) => {
      sockets.push(socket);
      socket.resume(); // reads the upgrade request
      onSocket(socket);
    });
    const wsPort = await listen(endpoint);
    cleanup.push(() => { sockets.forEach((s) => s.destroy()); return new Promise((r) => endpoint.close(r)); });
    const tickets = await ticketServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ endpoint: `ws://127.0.0.1:${wsPort}/connect`, ticket: `t-${tickets.server.requests}` }));
    });
    cleanup.push(() => closeServer(tickets.server));
    return { sockets, tickets };
  }

  it('a frame the gateway sends in the same tick as the upgrade is acknowledged and emitted, 100 connections in a row', async function () {
    this.timeout(30_000);
    const ROUNDS = 100;
    const template = frame('user_add_org.json');
    let sent = 0;
    // Each connection gets one EVENT at once; its ACK makes the gateway close it, so the client reconnects.
    const gateway = await startFakeGateway({ dingappone: 'secret-one' }, {
      onConnection: (conn) => {
        if (sent === ROUNDS) return;
        sent += 1;
        conn.sentId = `at-upgrade-${sent}`;
        conn.ws.send(JSON.stringify({ ...template, headers: { ...template.headers, messageId: conn.sentId } }));
      },
      onAck: (conn, ack) => { if (ack.headers.messageId === conn.sentId) conn.ws.close(); },
    });
    cleanup.push(() => gateway.close());
    const { events } = startClient({ apiUrl: gateway.url, stableMs: 0 }); // stableMs 0: the back-off stays at its first step
    const withFrame = () => gateway.state.connections.filter((conn) => conn.sentId);
    const acked = () => withFrame().filter((conn) => conn.acks.length > 0).length;
    try {
      await until('every frame acknowledged and emitted', () => acked() === ROUNDS && events.length === ROUNDS, 20_000);
    } catch (err) {
      err.message += ` (${acked()} of ${withFrame().length} connections acknowledged their frame, ${events.length} events emitted)`;
      throw err;
    }
    for (const conn of withFrame()) {
      conn.acks.map((a) => [a.headers.messageId, JSON.parse(a.data).status]).should.eql([[conn.sentId, 'SUCCESS']]);
    }
    events.map((f) => f.headers.messageId).should.eql(Array.from({ length: ROUNDS }, (_, i) => `at-upgrade-${i + 1}`));
  });

  it('a server that accepts TCP and never answers the upgrade: the handshake times out and the client tries again', async function () {
    const { sockets, tickets } = await endpointBehindTickets(() => undefined); // never answers the upgrade
    const { states } = startClient({ apiUrl: tickets.url, handshakeTimeoutMs: 300 });
    await until('a second connection attempt', () => sockets.length >= 2, 5000);
    tickets.server.requests.should.be.aboveOrEqual(2); // each attempt with a fresh ticket
    const failure = states.find((s) => s.state === 'reconnecting');
    failure.error.should.match(/handshake has timed out/);
    failure.inMs.should.equal(1000); // the normal back-off's first step
  });

  it('a ticket endpoint that never answers: the client gives up on the request and tries again', async function () {
    const hanging = [];
    const tickets = await ticketServer((req, res) => hanging.push(res)); // never answers
    cleanup.push(() => closeServer(tickets.server));
    const { states } = startClient({ apiUrl: tickets.url, ticketTimeoutMs: 300 });
    await until('a second ticket request', () => tickets.server.requests >= 2, 5000);
    const failure = states.find((s) => s.state === 'reconnecting');
    failure.error.should.match(/no ticket from 127\.0\.0\.1:\d+ within 0\.3 s/);
  });

  it('an upgrade answered a byte at a time (never idle, never done): the attempt deadline ends it', async function () {
    const { sockets, tickets } = await endpointBehindTickets((socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\n');
      // A header line every 50 ms keeps the socket busy, so ws's idle handshake timeout never fires.
      const timer = setInterval(() => socket.write('x-wait: 1\r\n'), 50);
      socket.on('close', () => clearInterval(timer));
      socket.on('error', () => clearInterval(timer));
    });
    const { states } = startClient({ apiUrl: tickets.url, handshakeTimeoutMs: 300, connectTimeoutMs: 600 });
    await until('a second connection attempt', () => sockets.length >= 2, 5000);
    states.find((s) => s.state === 'reconnecting').error.should.match(/not connected within 0\.6 s/);
    sockets[0].destroyed.should.be.true(); // the abandoned attempt let go of its socket
  });

  it('stop() during a hanging handshake ends the attempt at once', async function () {
    const { sockets, tickets } = await endpointBehindTickets(() => undefined);
    const { c, states } = startClient({ apiUrl: tickets.url }); // default timeouts: 10 s and more
    await until('the upgrade request', () => sockets.length === 1);
    let closed = false;
    sockets[0].once('close', () => { closed = true; });
    await c.stop();
    await until('the upgrade connection closed', () => closed, 2000); // the handshake timeout is 10 s
    states.some((s) => s.state === 'reconnecting').should.be.false();
    sockets.length.should.equal(1);
  });
});
