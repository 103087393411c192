'use strict';
// Connection set-up of the Stream client: a frame sent with the handshake is not lost.
require('should');
const { StreamClient } = require('../../core/stream/client');
const { startFakeGateway, frame, until } = require('../support/fake-gateway');

// Real time with the back-off shortened 1000-fold (1 s -> 1 ms): reconnects come at once, pings rarely.
const quick = { now: () => Date.now(), setTimer: (fn, ms) => setTimeout(fn, ms / 1000), clearTimer: (t) => clearTimeout(t) };

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
});
