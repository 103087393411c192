'use strict';
// The hand-off tracker without Node-RED: a fake runtime reports sends, receives and completions the way
// the messaging hooks do, and a fake store records what is marked handed on.
require('should');
const { HandoffTracker } = require('../../core/handoff/tracker');

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 2000) {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await tick(1);
  }
}

const busy = () => { throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }); };

function world({ stuckMs = 60000, noDoneGraceMs = 10000 } = {}) {
  const live = new Map(); // node id -> running instance
  const log = { stuck: [], markFailed: [], watching: [], orphaned: [], storeRecovered: 0 };
  let clock = 1000;
  let ids = 0;
  const host = {
    liveNode: (id) => live.get(id),
    newMsgId: () => `m${++ids}`,
    now: () => clock,
    watching: (on) => log.watching.push(on),
    stuck: (id, type, seconds) => log.stuck.push([id, type, seconds]),
    markFailed: (err) => log.markFailed.push(err.message),
    storeRecovered: () => { log.storeRecovered += 1; },
    orphaned: (receiver, count) => log.orphaned.push([receiver, count]),
  };
  const tracker = new HandoffTracker(host, { stuckMs: () => stuckMs, noDoneGraceMs, settleDelayMs: 1, retryMinMs: 5, retryMaxMs: 40, sweepMs: 10, adoptEveryMs: 10 });
  const rows = new Map(); // eventId -> { message, handed }
  let failMark = false;
  let failRead = false;
  const store = {
    // Asynchronous, like every store of the contract: answers come a turn later.
    pendingInbox: async () => [...rows].filter(([, r]) => !r.handed).map(([eventId, r]) => ({ eventId, message: r.message })),
    pendingMessage: async (_receiver, eventId) => (failRead ? busy() : rows.get(eventId) && !rows.get(eventId).handed ? rows.get(eventId).message : undefined),
    markHanded: async (_receiver, list) => {
      if (failMark) throw new Error('disk full');
      for (const id of list) rows.get(id).handed = true;
      return list.length;
    },
  };
  const sent = []; // messages the receiver emitted
  const receiver = { store: () => store, emit: (m, stamp) => { sent.push(stamp(m)); return true; }, reemitted: (n) => { receiver.reemittedCount = n; } };
  const node = (id, type = 'function') => {
    const n = { id, type, received: [], receive(msg) { n.received.push(msg); } };
    live.set(id, n);
    return { id, type, instance: n };
  };
  const accept = (eventId) => {
    const message = { topic: 't', payload: { n: eventId }, dingtalk: { eventId, eventType: 't', receivedAt: 1, source: 'http' } };
    rows.set(eventId, { message: JSON.stringify(message), handed: false });
    return message;
  };
  return {
    tracker, live, log, rows, sent, receiver, node, accept,
    advance: (ms) => { clock += ms; },
    failMarks: (on) => { failMark = on; },
    failReads: (on) => { failRead = on; },
  };
}

describe('core/handoff tracker', function () {
  it('marks an event handed on only once every message derived from it has finished', async function () {
    const w = world();
    const a = w.node('a');
    const b = w.node('b', 'dingtalk-dispatch');
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    w.tracker.emit('in1', w.accept('e1'));
    const id = w.sent[0]._msgid;
    w.tracker.sent(id, a);
    w.tracker.sent(id, b); // two wires
    w.tracker.completed(id, a, undefined, false, w.sent[0]);
    await tick(10); // bounded: no mark may be written
    w.rows.get('e1').handed.should.be.false(); // b has not finished
    w.tracker.sent(id, a); // b passed it on before calling done
    w.tracker.completed(id, b, undefined, true, w.sent[0]);
    await tick(10); // bounded: no mark may be written
    w.rows.get('e1').handed.should.be.false(); // it is on its way to a again
    await tick(10); // bounded: no mark may be written
    w.rows.get('e1').handed.should.be.false();
    w.tracker.completed(id, a, undefined, false, w.sent[0]);
    await until('e1 handed on', () => w.rows.get('e1').handed === true);
    w.rows.get('e1').handed.should.be.true();
    w.tracker.size.should.equal(0);
    w.log.watching.should.eql([true, false]); // hooks on while followed, off after
  });

  it('a node the runtime hands a message straight to (catch, link in) counts through what it sends before its done', async function () {
    const w = world();
    const a = w.node('a');
    const caught = w.node('catch', 'catch');
    const b = w.node('b');
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    w.tracker.emit('in1', w.accept('e1'));
    const id = w.sent[0]._msgid;
    w.tracker.sent(id, a);
    // a fails: its done(err) comes first, then the runtime gives the message to the catch node, which
    // sends it on and calls done, all in one turn
    w.tracker.completed(id, a, new Error('boom'), false, w.sent[0]);
    w.tracker.sent(id, b);
    w.tracker.completed(id, caught, undefined, false, w.sent[0]);
    await tick(10); // bounded: no mark may be written
    w.rows.get('e1').handed.should.be.false(); // b holds it
    w.tracker.completed(id, b, undefined, false, w.sent[0]);
    await until('handed on', () => w.rows.get('e1').handed);
  });

  it('a node without done (core switch) finishes with a message when it passes it on, or after a grace if it drops it', async function () {
    const w = world({ noDoneGraceMs: 20 });
    const sw = w.node('switch', 'switch');
    const b = w.node('b');
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    w.tracker.emit('in1', w.accept('routed'));
    w.tracker.emit('in1', w.accept('dropped'));
    const [routed, dropped] = w.sent.map((m) => m._msgid);
    w.tracker.sent(routed, sw, false);
    w.tracker.sent(dropped, sw, false);
    await tick(10); // bounded: no mark may be written
    w.rows.get('routed').handed.should.be.false(); // queued in the switch: not finished when its handler returns
    w.tracker.sent(routed, b); // the switch passes it on, a turn later
    w.tracker.passedOn(routed, sw);
    await tick(10); // bounded: no mark may be written
    w.rows.get('routed').handed.should.be.false(); // b holds it now
    w.tracker.completed(routed, b, undefined, false, w.sent[0]);
    await until('routed handed on', () => w.rows.get('routed').handed);
    w.rows.get('dropped').handed.should.be.false();
    w.advance(30); // no rule matched: it never comes out
    await until('dropped handed on after the grace', () => w.rows.get('dropped').handed, 3000);
    w.log.stuck.should.eql([]); // normal for such a node: not reported
  });

  it('a done() from a node a deploy stops (a delay dropping its queue) is no hand-off: the event is emitted again', async function () {
    const w = world();
    const delay = w.node('delay', 'delay');
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    w.tracker.emit('in1', w.accept('queued'));
    w.tracker.emit('in1', w.accept('passed'));
    const [queued, passed] = w.sent.map((m) => m._msgid);
    w.tracker.sent(queued, delay);
    w.tracker.sent(passed, delay);
    w.tracker.flowsStopping();
    w.tracker.completed(passed, delay, undefined, false, w.sent[1]); // released just before it stopped…
    w.tracker.completed(queued, delay, undefined, false, w.sent[0]); // …and the queue dropped on close
    await tick(20); // bounded: no mark may be written
    w.rows.get('queued').handed.should.be.false(); // nothing is marked during a deploy
    w.node('delay', 'delay'); // the new instance
    w.tracker.flowsStarted();
    await until('both emitted again (the store answers a turn later)', () => w.sent.length === 4);
    w.sent.slice(2).map((m) => m.dingtalk.eventId).sort().should.eql(['passed', 'queued']); // both again: safe
    w.sent.slice(2).every((m) => m.dingtalk.redelivered).should.be.true();
  });

  it('a done() during a deploy from a node that keeps running counts once the flows have started', async function () {
    const w = world();
    const keep = w.node('keep');
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    w.tracker.emit('in1', w.accept('e1'));
    const id = w.sent[0]._msgid;
    w.tracker.sent(id, keep);
    w.tracker.flowsStopping();
    w.tracker.completed(id, keep, undefined, false, w.sent[0]);
    w.tracker.flowsStarted();
    await until('handed on', () => w.rows.get('e1').handed);
    w.sent.length.should.equal(1); // not emitted again
  });

  it('emits again what a deploy lost: held by a replaced node, or sent while its node was being replaced', async function () {
    const w = world();
    const a = w.node('a');
    const keep = w.node('keep');
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    w.tracker.emit('in1', w.accept('held-by-replaced'));
    w.tracker.emit('in1', w.accept('sent-mid-deploy'));
    w.tracker.emit('in1', w.accept('held-by-kept'));
    const [m1, m2, m3] = w.sent.map((m) => m._msgid);
    w.tracker.sent(m1, a);
    w.tracker.sent(m3, keep);
    w.tracker.flowsStopping(); // "Modified Nodes" deploy of a
    w.tracker.sent(m2, undefined); // the runtime has no running a: dropped
    w.node('a'); // the new instance of a
    // Resumed as soon as the receiver reports its re-emits, before the settle timer could run: in the
    // runtime the new copies reach their nodes (the onSend hook) while they are emitted.
    const reemitted = new Promise((resolve) => { w.receiver.reemitted = (n) => { w.receiver.reemittedCount = n; resolve(); }; });
    w.tracker.flowsStarted();
    await reemitted;
    const again = w.sent.slice(3);
    again.map((m) => m.dingtalk.eventId).sort().should.eql(['held-by-replaced', 'sent-mid-deploy']);
    again.every((m) => m.dingtalk.redelivered === true).should.be.true();
    w.receiver.reemittedCount.should.equal(2);
    const a2 = { id: 'a', type: 'function', instance: w.live.get('a') };
    for (const m of again) {
      w.tracker.sent(m._msgid, a2);
    }
    // the old instance finishing late changes nothing for the new copies
    w.tracker.completed(m1, a, undefined, false, w.sent[0]);
    await tick(10); // bounded: no mark may be written
    w.rows.get('held-by-replaced').handed.should.be.false();
    w.rows.get('held-by-kept').handed.should.be.false(); // still held by a node that kept running
    w.tracker.completed(m3, keep, undefined, false, w.sent[2]);
    for (const m of again) w.tracker.completed(m._msgid, a2, undefined, false, m);
    await until('all handed on', () => [...w.rows.values()].every((r) => r.handed));
  });

  it('a wire to a node that does not run outside a deploy (a disabled node) leads nowhere: finished', async function () {
    const w = world();
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    w.tracker.emit('in1', w.accept('e1'));
    w.tracker.sent(w.sent[0]._msgid, undefined);
    await tick(10);
    w.rows.get('e1').handed.should.be.true();
  });

  it('after a restart, stored events nobody follows are emitted once the receiver starts; before that they wait', async function () {
    const w = world();
    w.accept('old-1');
    w.accept('old-2');
    w.tracker.register('in1', w.receiver);
    w.tracker.emit('in1', w.accept('early')); // pushed before the flows started
    w.sent.length.should.equal(0);
    w.tracker.flowsStarted();
    await until('emitted (the store lists them a turn later)', () => w.sent.length === 3);
    w.sent.map((m) => m.dingtalk.eventId).sort().should.eql(['early', 'old-1', 'old-2']);
    w.sent.every((m) => m.dingtalk.redelivered).should.be.true();
    await tick(10); // no wires: each finished at once
    [...w.rows.values()].every((r) => r.handed).should.be.true();
    w.tracker.flowsStarted(); // a later deploy emits nothing more
    await tick(10); // bounded: the store has answered
    w.sent.length.should.equal(3);
  });

  it('a dispatch node that could not queue an event gets it again once the store takes writes; backs off meanwhile', async function () {
    const w = world();
    const d = w.node('d', 'dingtalk-dispatch');
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    for (const id of ['e1', 'e2']) w.tracker.emit('in1', w.accept(id));
    for (const m of w.sent) {
      w.tracker.sent(m._msgid, d);
      w.tracker.completed(m._msgid, d, new Error('database or disk is full'), true, m);
    }
    await until('a probe', () => d.instance.received.length === 1);
    const probe = d.instance.received[0];
    probe.dingtalk.redelivered.should.be.true();
    await tick(20);
    d.instance.received.length.should.equal(1); // one probe at a time: the next waits for its outcome
    w.rows.get('e1').handed.should.be.false();
    const failedAt = Date.now();
    w.tracker.completed(probe._msgid, d, new Error('still full'), true, probe);
    await until('the next probe', () => d.instance.received.length === 2);
    (Date.now() - failedAt).should.be.aboveOrEqual(9); // backed off: 5 ms, then 10 ms
    const second = d.instance.received[1];
    w.tracker.completed(second._msgid, d, undefined, true, second); // the disk has room again
    await until('the rest at once', () => d.instance.received.length === 3);
    const third = d.instance.received[2];
    w.tracker.completed(third._msgid, d, undefined, true, third);
    await until('both handed on', () => w.rows.get('e1').handed && w.rows.get('e2').handed);
  });

  it('a message held past the limit counts as finished there, reported once per node', async function () {
    const w = world({ stuckMs: 1000 });
    const silent = w.node('silent', 'third-party');
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    for (const id of ['e1', 'e2']) {
      w.tracker.emit('in1', w.accept(id));
      const m = w.sent[w.sent.length - 1];
      w.tracker.sent(m._msgid, silent);
    }
    await tick(30);
    w.rows.get('e1').handed.should.be.false();
    w.advance(1001);
    await tick(30);
    w.rows.get('e1').handed.should.be.true();
    w.rows.get('e2').handed.should.be.true();
    w.log.stuck.should.eql([['silent', 'third-party', 1]]);
  });

  it('a node that reports done for other messages (a slow delay queue) may hold one past the limit', async function () {
    const w = world({ stuckMs: 1000 });
    const delay = w.node('delay', 'delay');
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    for (const id of ['first', 'waiting']) {
      w.tracker.emit('in1', w.accept(id));
      w.tracker.sent(w.sent[w.sent.length - 1]._msgid, delay);
    }
    w.tracker.completed(w.sent[0]._msgid, delay, undefined, false, w.sent[0]); // it does report done
    w.advance(5000);
    await tick(60);
    w.rows.get('first').handed.should.be.true();
    w.rows.get('waiting').handed.should.be.false(); // still queued in the delay: not given up
    w.log.stuck.should.eql([]);
  });

  it('a failing mark is reported once and retried; the events stay pending meanwhile', async function () {
    const w = world();
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    w.failMarks(true);
    w.tracker.emit('in1', w.accept('e1'));
    w.tracker.emit('in1', w.accept('e2'));
    await tick(30);
    w.log.markFailed.should.eql(['disk full']);
    w.rows.get('e1').handed.should.be.false();
    w.failMarks(false);
    await tick(60);
    w.rows.get('e1').handed.should.be.true();
    w.rows.get('e2').handed.should.be.true();
  });

  it('a store that cannot be read at every sweep: nothing thrown, reported once, emitted and "available again" once it reads', async function () {
    const w = world();
    w.tracker.register('in1', w.receiver);
    w.tracker.emit('in1', w.accept('e1')); // before the flows started: lost, emitted again from the store
    w.failReads(true);
    w.tracker.flowsStarted(); // runtime event: must not throw
    await tick(60); // several sweeps, each trying again
    w.sent.length.should.equal(0);
    w.log.markFailed.should.eql(['database is locked']);
    w.log.storeRecovered.should.equal(0);
    w.failReads(false);
    await until('the event emitted again', () => w.sent.length === 1);
    w.sent[0].dingtalk.redelivered.should.be.true();
    w.log.storeRecovered.should.equal(1);
    w.log.markFailed.length.should.equal(1);
  });

  it('stored events the busy store would not list when the flows started are read again and emitted, without waiting for a deploy', async function () {
    const w = world();
    w.accept('old-1'); // stored before a restart, never handed on
    const store = w.receiver.store();
    let failList = true;
    const listing = { ...store, pendingInbox: (...args) => (failList ? busy() : store.pendingInbox(...args)) };
    w.tracker.register('in1', { ...w.receiver, store: () => listing });
    w.tracker.flowsStarted(); // runtime event: must not throw
    await tick(60); // bounded: nothing can be emitted while the store cannot list
    w.sent.length.should.equal(0);
    w.log.markFailed.should.eql(['database is locked']);
    failList = false;
    await until('the stored event emitted', () => w.sent.length === 1);
    w.sent[0].dingtalk.eventId.should.equal('old-1');
    w.sent[0].dingtalk.redelivered.should.be.true();
    w.log.storeRecovered.should.equal(1);
    await until('old-1 handed on', () => w.rows.get('old-1').handed === true);
    w.log.markFailed.length.should.equal(1);
  });

  it("adopts the pending events of an instance that died (a shared store) and emits them, flagged redelivered", async function () {
    const w = world();
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    await tick(20); // bounded: nothing stored yet, nothing emitted
    w.sent.should.have.length(0);
    // Another instance accepted e1 and died: the shared store moves it to this instance on request.
    let orphans = ['e1'];
    const adoptions = [];
    w.receiver.store().adoptOrphaned = async (key) => {
      adoptions.push(key);
      for (const id of orphans) w.accept(id);
      const moved = orphans.length;
      orphans = [];
      return moved;
    };
    await until('e1 emitted', () => w.sent.length === 1);
    w.sent[0].dingtalk.should.have.properties({ eventId: 'e1', redelivered: true });
    adoptions[0].should.equal('in1');
    await tick(40); // bounded: later passes adopt nothing and emit nothing more
    w.sent.should.have.length(1);
    adoptions.length.should.be.above(1);
  });

  it('a deploy that removes a receiver with events in the flow lets them go and says so', async function () {
    const w = world();
    const a = w.node('a');
    w.tracker.register('in1', w.receiver);
    w.tracker.flowsStarted();
    w.tracker.emit('in1', w.accept('e1'));
    w.tracker.sent(w.sent[0]._msgid, a);
    w.tracker.flowsStopping();
    w.tracker.unregister('in1', w.receiver);
    w.tracker.flowsStarted();
    w.tracker.size.should.equal(0);
    w.log.orphaned.should.eql([['in1', 1]]);
    w.log.watching[w.log.watching.length - 1].should.be.false(); // hooks off
    w.rows.get('e1').handed.should.be.false(); // the row stays for a receiver of that id
  });

  it('events of different receivers with the same id are followed apart', async function () {
    const w = world();
    const a = w.node('a');
    const other = { store: w.receiver.store, emit: (m, stamp) => { w.sent.push(stamp(m)); return true; } };
    w.tracker.register('in1', w.receiver);
    w.tracker.register('in2', other);
    w.tracker.flowsStarted();
    w.tracker.emit('in1', w.accept('same'));
    w.tracker.emit('in2', JSON.parse(w.rows.get('same').message));
    w.sent.length.should.equal(2);
    w.sent[0]._msgid.should.not.equal(w.sent[1]._msgid);
    w.tracker.size.should.equal(2);
    w.tracker.sent(w.sent[0]._msgid, a);
    await tick(10);
    w.tracker.size.should.equal(1); // in2's copy had no wire: finished; in1's is still at a
  });
});
