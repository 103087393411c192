'use strict';
// Group commit and the store's two kinds of write: accept() resolves only after an fsync of the WAL;
// outbox writes commit without waiting for one.
require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { GroupCommit } = require('../../../core/store/group-commit');
const { EventStore } = require('../../../core/store/event-store');
const { waitFor } = require('../../support/wait');

describe('core/store group commit', function () {
  it('runs the writes of one event-loop turn in one transaction, durable when any write asked for it', async function () {
    const transactions = [];
    const commit = new GroupCommit((body, durable) => { const before = transactions.length; body(); transactions.push({ durable, at: before }); });
    const order = [];
    await Promise.all([commit.write(() => order.push(1), false), commit.write(() => order.push(2), false)]);
    await Promise.all([commit.write(() => order.push(3), false), commit.write(() => order.push(4))]);
    await commit.write(() => order.push(5));
    order.should.eql([1, 2, 3, 4, 5]);
    transactions.map((t) => t.durable).should.eql([false, true, true]);
  });

  it('rejects every write of a failed transaction and goes on with the next batch', async function () {
    let fail = true;
    const commit = new GroupCommit((body) => { body(); if (fail) throw new Error('disk full'); });
    const results = await Promise.allSettled([commit.write(() => {}), commit.write(() => {}, false)]);
    results.map((r) => r.status).should.eql(['rejected', 'rejected']);
    fail = false;
    await commit.write(() => {});
  });

  it('the store answers accept() only after an fsync of the WAL off the main thread; outbox writes need none', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-gc-'));
    const store = new EventStore(path.join(dir, 'hub.sqlite'));
    const realFsync = fs.fsync;
    const held = [];
    fs.fsync = (fd, cb) => held.push(() => realFsync(fd, cb)); // hold each flush until released
    try {
      store['db'].pragma('synchronous', { simple: true }).should.equal(1); // NORMAL: no flush inside commits
      let accepted = false;
      const accepting = store.accept('e1', 'in', { topic: 'x' }).then((v) => { accepted = true; return v; });
      await new Promise((r) => setTimeout(r, 20)); // bounded: the accept must not resolve before the flush
      accepted.should.be.false(); // committed, but not yet on the disk
      held.length.should.equal(1);
      // a second accept while the first flush runs waits for the next flush, and shares it with a third
      const second = store.accept('e2', 'in', { topic: 'x' });
      await new Promise((r) => setImmediate(r));
      const third = store.accept('e3', 'in', { topic: 'x' });
      await new Promise((r) => setTimeout(r, 20)); // bounded: no second flush may start while the first runs
      held.length.should.equal(1);
      held.shift()();
      (await accepting).should.equal('new');
      await waitFor(() => held.length === 1, { what: 'the next flush' }); // one more flush for both waiting accepts
      held.shift()();
      (await Promise.all([second, third])).should.eql(['new', 'new']);
      // queueing and delivery marks commit without waiting for a flush of their own
      (await store.enqueue('erp', 'e1', 'x', '{}')).should.equal('new');
      const [id] = store.dueIds('erp', 10);
      await store.recordDelivered(id, 200);
      store.counts('erp').delivered.should.equal(1);
      held.length.should.equal(0);
    } finally {
      fs.fsync = realFsync;
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a failed flush: not accepted, the row forgotten (a retry is not a duplicate), nothing durable until reopened', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-gc-'));
    const file = path.join(dir, 'hub.sqlite');
    let store = new EventStore(file);
    const realFsync = fs.fsync;
    let failures = 1;
    fs.fsync = (fd, cb) => (failures-- > 0 ? process.nextTick(cb, Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' })) : realFsync(fd, cb));
    try {
      await store.accept('e1', 'in', { topic: 'x' }).should.be.rejectedWith(/EIO/);
      store['db'].prepare('SELECT COUNT(*) FROM inbox').pluck().get().should.equal(0); // forgotten
      // The disk "works" again, but a failed fsync may have dropped pages: this store says durable no more.
      await store.accept('e1', 'in', { topic: 'x' }).should.be.rejectedWith(/restart Node-RED/);
      store.close();
      store = new EventStore(file); // as after a restart
      (await store.accept('e1', 'in', { topic: 'x' })).should.equal('new');
      (await store.accept('e1', 'in', { topic: 'x' })).should.equal('duplicate');
    } finally {
      fs.fsync = realFsync;
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
