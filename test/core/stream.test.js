'use strict';
// The Stream client against a local fake gateway; back-off is measured with a fake clock.
require('should');
const { StreamClient } = require('../../core/stream/client');
const { startFakeGateway, frame, until } = require('../support/fake-gateway');

class FakeClock {
  constructor() { this.t = 1_700_000_000_000; this.timers = []; }
  now() { return this.t; }
  setTimer(fn, ms) { const x = { at: this.t + ms, ms, fn }; this.timers.push(x); return x; }
  clearTimer(x) { this.timers = this.timers.filter((y) => y !== x); }
  advance(ms) { this.t += ms; const due = this.timers.filter((x) => x.at <= this.t); this.timers = this.timers.filter((x) => x.at > this.t); due.forEach((x) => x.fn()); }
}

describe('core/stream', function () {
  let gateway;
  let clients;
  const APPS = { dingappone: 'secret-one', dingapptwo: 'secret-two' };
  beforeEach(async () => { gateway = await startFakeGateway(APPS); clients = []; });
  afterEach(async () => { await Promise.all(clients.map((c) => c.stop())); await gateway.close(); });

  function client(options = {}) {
    const events = [];
    const states = [];
    const c = new StreamClient({
      clientId: 'dingappone', clientSecret: 'secret-one', apiUrl: gateway.url,
      onEvent: async (f) => { events.push(f); return options.status || 'SUCCESS'; },
      onState: (s) => states.push(s),
      random: () => 0.5, // no jitter: exact delays
      ...options,
    });
    clients.push(c);
    c.start();
    // the server sees the connection before the client has finished opening it: wait for the client
    const connected = (n = 1) => until(`connection ${n}`, () => states.filter((x) => x.state === 'connected').length >= n);
    return { c, events, states, connected };
  }

  it('connects with a ticket, acknowledges each EVENT with its messageId, and answers ping with its data', async function () {
    const { events, connected } = client();
    await connected();
    const conn = gateway.current();
    const ev = frame('bpms_instance_change.json');
    gateway.send(conn, ev);
    gateway.send(conn, frame('_protocol/system.ping.json'));
    gateway.send(conn, frame('_protocol/system.keepalive.json'));
    await until('two acks', () => conn.acks.length === 2);
    events.length.should.equal(1);
    const eventAck = conn.acks.find((a) => a.headers.messageId === ev.headers.messageId);
    eventAck.should.have.properties({ code: 200, message: 'OK' });
    JSON.parse(eventAck.data).status.should.equal('SUCCESS');
    const ping = frame('_protocol/system.ping.json');
    const pingAck = conn.acks.find((a) => a.headers.messageId === ping.headers.messageId);
    pingAck.data.should.equal(ping.data); // the opaque echoed
  });

  it('acknowledges LATER when the event cannot be stored', async function () {
    const { connected } = client({ onEvent: async () => { throw new Error('disk full'); } });
    await connected();
    gateway.send(gateway.current(), frame('user_add_org.json'));
    await until('ack', () => gateway.current().acks.length === 1);
    JSON.parse(gateway.current().acks[0].data).status.should.equal('LATER');
  });

  it('disconnect: a new ticket and connection first, the old one read until the server closes it', async function () {
    const { c, events, connected } = client();
    await connected();
    const old = gateway.current();
    gateway.send(old, frame('_protocol/system.disconnect.json'));
    await connected(2);
    gateway.state.opens.should.equal(2);
    // the old connection still delivers what the server sends before closing it
    gateway.send(old, frame('user_add_org.json'));
    await until('ack on the old connection', () => old.acks.length === 1);
    old.ws.close();
    await until('the old connection closed', () => old.closed);
    // the server closing the old connection is not a drop: the client keeps the second one and opens no third
    gateway.open().map((x) => gateway.state.connections.indexOf(x)).should.eql([1], 'open connections (by order of opening)');
    const fresh = gateway.state.connections[1];
    gateway.send(fresh, frame('user_leave_org.json'));
    await until('ack on the new connection', () => fresh.acks.length === 1);
    events.map((f) => f.headers.eventType).should.eql(['user_add_org', 'user_leave_org']);
    c.connections.should.equal(2);
  });

  it('a dropped connection comes back with exponential back-off and a fresh ticket', async function () {
    const clock = new FakeClock();
    const { states, connected } = client({ clock });
    await connected();
    gateway.current().ws.terminate();
    await until('reconnect scheduled', () => states.some((s) => s.state === 'reconnecting'));
    states.filter((s) => s.state === 'reconnecting').pop().inMs.should.equal(1000);
    clock.advance(1000);
    await until('second connection', () => gateway.open().length === 1 && gateway.state.opens === 2);
    gateway.state.tickets.size.should.equal(0); // every ticket was used once
  });

  it('refused credentials: a clear error and growing delays, no tight loop', async function () {
    const clock = new FakeClock();
    const { states } = client({ clock, clientSecret: 'wrong' });
    const delays = [];
    for (let i = 0; i < 8; i++) {
      await until(`attempt ${i + 1}`, () => gateway.state.refused === i + 1 && clock.timers.length === 1);
      const last = states.filter((s) => s.state === 'reconnecting').pop();
      last.error.should.match(/invalidClientIdOrSecret/);
      delays.push(last.inMs);
      clock.advance(last.inMs);
    }
    delays.should.eql([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    await until('ninth attempt', () => gateway.state.refused === 9);
  });

  it('replaces a connection that went silent', async function () {
    const clock = new FakeClock();
    const { connected } = client({ clock, pingIntervalMs: 1000, livenessMs: 3000 });
    await connected();
    const first = gateway.current();
    first.ws.pause(); // the socket stays open but answers nothing, not even pongs
    // pings every second; after 3 s of silence the client drops it and reconnects (1 s back-off)
    for (let i = 0; i < 10 && gateway.state.opens < 2; i++) {
      clock.advance(1000);
      await new Promise((r) => setTimeout(r, 30));
    }
    gateway.state.opens.should.equal(2);
    await until('new connection', () => gateway.current() && gateway.current() !== first);
  });

  it('two apps keep separate connections', async function () {
    const one = client();
    const two = client({ clientId: 'dingapptwo', clientSecret: 'secret-two' });
    await one.connected();
    await two.connected();
    gateway.send(gateway.current('dingapptwo'), frame('user_add_org.json'));
    await until('ack', () => gateway.current('dingapptwo').acks.length === 1);
    one.events.length.should.equal(0);
    two.events.length.should.equal(1);
  });

  it('stop() closes the socket and cancels timers', async function () {
    const clock = new FakeClock();
    const { c, connected } = client({ clock });
    await connected();
    const conn = gateway.current();
    await c.stop();
    await until('closed', () => conn.closed);
    clock.timers.length.should.equal(0);
  });

  it('a refused WebSocket handshake (HTTP 403) leaves no connection open behind it', async function () {
    const http = require('node:http');
    let refusedOpen = 0;
    let refused = 0;
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ endpoint: `ws://127.0.0.1:${server.address().port}/gateway`, ticket: `t-${refused}` }));
      });
    });
    server.on('upgrade', (req, socket) => {
      refused += 1;
      refusedOpen += 1;
      socket.on('close', () => { refusedOpen -= 1; });
      // The client drops a refused handshake at once, and may reset the connection (ECONNRESET, seen on
      // Node 24) before reading the whole answer: that ends it as well as a close does.
      socket.on('error', () => {});
      socket.on('end', () => socket.end()); // a real gateway closes its side when the client does
      socket.resume();
      socket.write('HTTP/1.1 403 Forbidden\r\ncontent-length: 9\r\n\r\nforbidden');
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const fast = { now: () => Date.now(), setTimer: (fn) => setTimeout(fn, 10), clearTimer: (t) => clearTimeout(t) };
    const states = [];
    const c = new StreamClient({ clientId: 'k', clientSecret: 's', apiUrl: `http://127.0.0.1:${server.address().port}`, clock: fast,
      onEvent: async () => 'SUCCESS', onState: (st) => states.push(st) });
    try {
      c.start();
      await until('several refusals', () => refused >= 5);
      await c.stop();
      await until('every refused connection closed', () => refusedOpen === 0, 2000);
      states.some((st) => st.state === 'reconnecting' && /HTTP 403/.test(st.error)).should.be.true();
    } finally {
      await c.stop();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
