'use strict';
// Another connection holding the store's write lock (another process, a backup tool, `sqlite3` in a
// shell): better-sqlite3 is synchronous, so every wait for the lock stalls the event loop. The store must
// wait at most BUSY_TIMEOUT_MS, then fail fast for a spell without touching SQLite, keep reading under
// WAL, and take writes again as soon as the lock is gone; group commit rejects, never throws.
require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { monitorEventLoopDelay } = require('node:perf_hooks');
const Database = require('better-sqlite3');
const { EventStore } = require('../../../core/store/event-store');
const { BUSY_TIMEOUT_MS, BUSY_SPELL_MIN_MS, BusyGate, StoreBusyError } = require('../../../core/store/busy-gate');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('core/store while another connection holds the write lock', function () {
  let dir;
  let store;
  let locker;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-busy-'));
    store = new EventStore(path.join(dir, 'hub.sqlite'));
  });
  afterEach(() => {
    if (locker?.open) locker.close();
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const lock = () => {
    locker = new Database(path.join(dir, 'hub.sqlite'));
    locker.exec('BEGIN EXCLUSIVE');
  };
  const release = () => {
    locker.exec('COMMIT');
    locker.close();
  };

  it('refuses an accept after at most the busy timeout, then at once for a spell; reads go on; writes resume after the lock', async function () {
    (await store.accept('before', 'in1', { n: 0 })).should.equal('new');
    await store.enqueue('sub', 'before', 'user_add_org', '{}', 0);
    lock();
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    let started = Date.now();
    const first = await store.accept('during-1', 'in1', { n: 1 }).catch((err) => err);
    const firstMs = Date.now() - started;
    first.should.have.property('code', 'SQLITE_BUSY');
    firstMs.should.be.below(BUSY_TIMEOUT_MS * 3 + 100); // the write transaction, and the forget (fails fast)
    firstMs.should.be.aboveOrEqual(BUSY_TIMEOUT_MS - 10); // it did wait for the lock once
    // Within the spell: refused without asking SQLite.
    started = Date.now();
    const second = await store.accept('during-2', 'in1', { n: 2 }).catch((err) => err);
    second.should.be.instanceOf(StoreBusyError);
    (Date.now() - started).should.be.below(50);
    const outboxWrite = await store.enqueue('sub', 'during-2', 'user_add_org', '{}', 0).catch((err) => err);
    outboxWrite.should.have.property('code', 'SQLITE_BUSY');
    (() => store.pruneDelivered('sub', Date.now())).should.throw({ code: 'SQLITE_BUSY' });
    // Readers never wait for the writer under WAL: the worker and the status still see the queue.
    store.dueIds('sub', 10).length.should.equal(1);
    store.counts('sub').queued.should.equal(1);
    loop.disable();
    (loop.max / 1e6).should.be.below(BUSY_TIMEOUT_MS * 2 + 50);
    release();
    await sleep(BUSY_SPELL_MIN_MS * 2 + 50); // the spell is over: the next write asks SQLite again
    (await store.accept('during-1', 'in1', { n: 1 })).should.equal('new'); // not taken for a duplicate
    store.pendingInbox('in1').map((r) => r.eventId).should.eql(['before', 'during-1']);
  });

  it('a spell grows while the database stays busy and ends with the first write that works', function () {
    let now = 0;
    const gate = new BusyGate(() => now);
    const busy = () => { throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }); };
    let calls = 0;
    const count = () => { calls += 1; return busy(); };
    (() => gate.write(count)).should.throw({ code: 'SQLITE_BUSY' });
    (() => gate.write(count)).should.throw(StoreBusyError);
    gate.read(() => 'read').should.equal('read'); // a write found it busy: reads still go to SQLite
    calls.should.equal(1);
    now += BUSY_SPELL_MIN_MS;
    (() => gate.write(count)).should.throw({ code: 'SQLITE_BUSY' });
    calls.should.equal(2);
    now += BUSY_SPELL_MIN_MS; // the second spell is twice as long
    (() => gate.write(count)).should.throw(StoreBusyError);
    now += BUSY_SPELL_MIN_MS;
    gate.write(() => 'written').should.equal('written');
    gate.busy.should.be.false();
    (() => gate.write(count)).should.throw({ code: 'SQLITE_BUSY' });
    now += BUSY_SPELL_MIN_MS; // back to the short spell
    gate.write(() => 'again').should.equal('again');
  });

  it('a read that finds the database busy (rollback journal) refuses reads for the spell too', function () {
    let now = 0;
    const gate = new BusyGate(() => now);
    (() => gate.read(() => { throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }); })).should.throw({ code: 'SQLITE_BUSY' });
    (() => gate.read(() => 'x')).should.throw(StoreBusyError);
    (() => gate.write(() => 'x')).should.throw(StoreBusyError);
    now += BUSY_SPELL_MIN_MS;
    gate.read(() => 'x').should.equal('x');
  });

  it('other errors are no busy spell: the next write asks SQLite at once', function () {
    const gate = new BusyGate();
    (() => gate.write(() => { throw Object.assign(new Error('disk full'), { code: 'SQLITE_FULL' }); })).should.throw({ code: 'SQLITE_FULL' });
    gate.write(() => 1).should.equal(1);
  });
});
