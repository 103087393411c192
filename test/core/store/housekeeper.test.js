'use strict';
// The store's housekeeper against a real SQLite store and a fake clock: the de-duplication window and
// the keep-delivered period, and the orphans of nodes deleted from the flows, let go only once the grace
// period has passed, counted from when they were first seen missing, even across a restart.
require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Database = require('better-sqlite3');
const { EventStore } = require('../../../core/store/event-store');
const { Housekeeper } = require('../../../core/store/housekeeper');
const { SqliteHubStore } = require('../../../core/store/sqlite-hub-store');

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('core/store housekeeper', function () {
  let dir;
  let file;
  let clock;
  let store;
  let keepers;
  let reports;

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-housekeeper-'));
    file = path.join(dir, 'hub.sqlite');
    clock = { t: 1_700_000_000_000 };
    store = new EventStore(file, { now: () => clock.t });
    keepers = [];
    reports = [];
  });
  afterEach(function () {
    for (const k of keepers) k.stop();
    try { store.close(); } catch { /* closed by the test */ }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const report = {
    orphaned: (kind, id, rows, at) => reports.push(['orphaned', kind, id, rows, at]),
    returned: (kind, id) => reports.push(['returned', kind, id]),
    removed: (kind, id, rows) => reports.push(['removed', kind, id, rows]),
    failed: (err) => reports.push(['failed', err.message]),
  };
  /** A housekeeper on `on` (the store by default) with a 7-day window and grace, 1-day keep-delivered. */
  function keeper(options = {}, on = new SqliteHubStore(store)) {
    const k = new Housekeeper(on, {
      dedupMs: () => 7 * DAY,
      keepDeliveredMs: () => DAY,
      orphanGraceMs: () => 7 * DAY,
      watchDeploys: () => () => {},
      report,
      now: () => clock.t,
      everyMs: HOUR,
      ...options,
    });
    keepers.push(k);
    k.start();
    return k;
  }
  /** The deployed flows hold exactly these subscribers and receivers. */
  const deployed = ({ subscribers = [], receivers = [] } = {}) => ({
    subscriber: (id) => subscribers.includes(id),
    receiver: (key) => receivers.includes(key),
  });
  const read = (sql, ...args) => {
    const db = new Database(file, { readonly: true });
    try { return db.prepare(sql).all(...args); } finally { db.close(); }
  };
  const count = (sql, ...args) => Object.values(read(sql, ...args)[0])[0];

  async function receive(receiver, ids, { handed = false } = {}) {
    for (const id of ids) (await store.accept(id, receiver, { id })).should.equal('new');
    if (handed) (await store.markHanded(receiver, ids)).should.equal(ids.length);
  }
  async function queue(subscriber, ids, { delivered = false } = {}) {
    for (const id of ids) (await store.enqueue(subscriber, id, 'x', '{}')).should.equal('new');
    if (delivered) {
      for (const id of store.dueIds(subscriber, 1000)) await store.recordDelivered(id, 200);
    }
  }

  it('forgets handed-on events older than the window and delivered rows older than the keep period, of every node, a batch at a time', async function () {
    await receive('in-old', ['a1', 'a2', 'a3', 'a4', 'a5'], { handed: true });
    await receive('in-old', ['a6']); // never handed on: stays whatever its age
    await queue('sub-1', ['d1', 'd2', 'd3'], { delivered: true });
    await queue('sub-2', ['d4'], { delivered: true });
    await queue('sub-2', ['q1']); // queued: stays
    clock.t += 6 * DAY;
    await receive('in-new', ['b1'], { handed: true });
    await queue('sub-1', ['d5'], { delivered: true });
    const k = keeper({ batch: 2 }); // no deploy known yet: pruning needs none
    await k.spell();
    count("SELECT COUNT(*) FROM inbox").should.equal(7); // 6 days: inside the window
    count("SELECT COUNT(*) FROM outbox WHERE state = 'delivered'").should.equal(0 + 1); // d1..d4 older than a day
    clock.t += DAY + 1;
    await k.spell();
    read('SELECT event_id AS id FROM inbox ORDER BY seq').map((r) => r.id).should.eql(['a6', 'b1']);
    read('SELECT event_id AS id, state FROM outbox ORDER BY id').should.eql([{ id: 'q1', state: 'queued' }]);
    reports.should.eql([]);
  });

  it('lets go of a deleted dispatch node\'s queue only after the grace period, logged once with its size', async function () {
    await queue('gone', ['e3'], { delivered: true }); // every state goes with it
    await queue('gone', ['e1', 'e2']);
    await queue('kept', ['e1']);
    const k = keeper({ keepDeliveredMs: () => 30 * DAY });
    k.deploy(deployed({ subscribers: ['kept'] }));
    await k.spell();
    reports.should.eql([['orphaned', 'subscriber', 'gone', 3, clock.t + 7 * DAY]]);
    read('SELECT kind, id, since FROM orphans').should.eql([{ kind: 'subscriber', id: 'gone', since: clock.t }]);
    clock.t += 7 * DAY - 1;
    await k.spell();
    count("SELECT COUNT(*) FROM outbox WHERE subscriber = 'gone'").should.equal(3);
    reports.length.should.equal(1);
    clock.t += 1;
    await k.spell();
    count("SELECT COUNT(*) FROM outbox WHERE subscriber = 'gone'").should.equal(0);
    count("SELECT COUNT(*) FROM outbox WHERE subscriber = 'kept'").should.equal(1);
    reports.slice(1).should.eql([['removed', 'subscriber', 'gone', 3]]);
    read('SELECT * FROM orphans').should.eql([]);
    await k.spell();
    reports.length.should.equal(2);
  });

  it('keeps counting the grace period across a restart: the first sighting is in the store', async function () {
    await queue('gone', ['e1']);
    const first = keeper();
    first.deploy(deployed());
    await first.spell();
    first.stop();
    store.close();
    clock.t += 7 * DAY; // Node-RED restarts a week later, with the same flows
    store = new EventStore(file, { now: () => clock.t });
    const second = keeper();
    second.deploy(deployed());
    await second.spell();
    reports.map((r) => r[0]).should.eql(['orphaned', 'removed']);
    count('SELECT COUNT(*) FROM outbox').should.equal(0);
  });

  it('a deploy that brings the node back cancels the grace period; deleted again, it starts anew', async function () {
    await queue('sub', ['e1']);
    const k = keeper();
    k.deploy(deployed());
    await k.spell();
    clock.t += 6 * DAY;
    k.deploy(deployed({ subscribers: ['sub'] }));
    await k.spell();
    read('SELECT * FROM orphans').should.eql([]);
    clock.t += 2 * DAY;
    k.deploy(deployed());
    await k.spell();
    clock.t += 6 * DAY; // 14 days after the first sighting, 6 after the second
    await k.spell();
    count('SELECT COUNT(*) FROM outbox').should.equal(1);
    reports.map((r) => r.slice(0, 3).join(' ')).should.eql(['orphaned subscriber sub', 'returned subscriber sub', 'orphaned subscriber sub']);
  });

  it('gives up a deleted receiver\'s events not handed on after the grace period; its handed-on rows go with the window', async function () {
    await receive('in-gone', ['p1', 'p2', 'p3']);
    await receive('in-gone', ['h1'], { handed: true });
    await receive('in-live', ['p4']);
    await receive('in-handed', ['h2'], { handed: true }); // a deleted receiver with nothing pending: no orphan
    const k = keeper({ batch: 2, dedupMs: () => 10 * DAY });
    k.deploy(deployed({ receivers: ['in-live'] }));
    await k.spell();
    reports.should.eql([['orphaned', 'receiver', 'in-gone', 3, clock.t + 7 * DAY]]);
    clock.t += 7 * DAY;
    await k.spell();
    reports[1].should.eql(['removed', 'receiver', 'in-gone', 3]);
    store.pendingInbox('in-gone').should.eql([]);
    store.pendingInbox('in-live').map((r) => r.eventId).should.eql(['p4']);
    // given up, not forgotten: still de-duplicated until the window ends
    (await store.accept('p1', 'in-other', {})).should.equal('duplicate');
    await k.spell();
    read('SELECT event_id AS id FROM inbox ORDER BY seq').map((r) => r.id).should.eql(['p1', 'p2', 'p3', 'h1', 'p4', 'h2']);
    clock.t += 3 * DAY + 1; // the window (10 days) has passed for every row
    await k.spell();
    read('SELECT event_id AS id FROM inbox ORDER BY seq').map((r) => r.id).should.eql(['p4']);
  });

  it('judges no orphan while a deploy is under way', async function () {
    await queue('new-node', ['e1']);
    const k = keeper();
    k.deploy(deployed({ subscribers: ['new-node'] }));
    await k.spell();
    k.deploy(undefined); // flows:stopping
    await k.spell();
    reports.should.eql([]);
    read('SELECT * FROM orphans').should.eql([]);
  });

  it('stops letting go of a queue as soon as a deploy starts half-way through: the node may be back', async function () {
    await queue('sub', ['e1', 'e2', 'e3', 'e4', 'e5', 'e6']);
    let deploying = false;
    const watched = new Proxy(new SqliteHubStore(store), {
      get(target, prop) {
        const value = target[prop];
        if (prop === 'dropQueue') {
          return (...args) => {
            const n = value.apply(target, args);
            // After the first batch: a deploy starts (flows:stopping), brings the node back, and it queues.
            if (!deploying) {
              deploying = true;
              k.deploy(undefined);
              k.deploy(deployed({ subscribers: ['sub'] }));
              target.enqueue('sub', 'new-1', 'x', '{}').catch(() => {});
            }
            return n;
          };
        }
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const k = keeper({ batch: 2 }, watched);
    k.deploy(deployed());
    await k.spell();
    clock.t += 7 * DAY;
    await k.spell(); // grace over: lets go of the queue, 2 rows a batch, a deploy comes after the first
    await new Promise((r) => setImmediate(r));
    await k.spell(); // the spell the deploy asked for, against the flows that hold the node again
    deploying.should.be.true();
    count("SELECT COUNT(*) FROM outbox WHERE subscriber = 'sub' AND event_id = 'new-1'").should.equal(1);
    count("SELECT COUNT(*) FROM outbox WHERE subscriber = 'sub'").should.equal(5); // one batch of the old queue went
    reports.map((r) => r.slice(0, 3).join(' ')).should.eql(['orphaned subscriber sub', 'returned subscriber sub']);
    read('SELECT * FROM orphans').should.eql([]);
  });

  it('runs after a deploy and again when a grace period ends, on its own', async function () {
    await queue('gone', ['e1']);
    let onDeploy;
    const realNow = Date.now;
    const k = keeper({ now: realNow, orphanGraceMs: () => 150, watchDeploys: (cb) => { onDeploy = cb; return () => { onDeploy = undefined; }; } });
    onDeploy(deployed());
    for (let i = 0; i < 100 && reports.length < 1; i += 1) await new Promise((r) => setTimeout(r, 10));
    reports.map((r) => r[0]).should.eql(['orphaned']);
    count('SELECT COUNT(*) FROM outbox').should.equal(1);
    for (let i = 0; i < 100 && reports.length < 2; i += 1) await new Promise((r) => setTimeout(r, 10));
    reports.map((r) => r[0]).should.eql(['orphaned', 'removed']);
    count('SELECT COUNT(*) FROM outbox').should.equal(0);
    k.stop();
    (onDeploy === undefined).should.be.true(); // stopping unsubscribes
  });

  it('a store opened while the flows run is judged at once, not at the next regular spell', async function () {
    await queue('gone', ['e1']);
    keeper({ now: Date.now, everyMs: DAY, watchDeploys: (cb) => { cb(deployed()); return () => {}; } });
    for (let i = 0; i < 100 && reports.length < 1; i += 1) await new Promise((r) => setTimeout(r, 10));
    reports.map((r) => r.slice(0, 3)).should.eql([['orphaned', 'subscriber', 'gone']]);
  });

  it('reports a failing store once per failing spell, and again after it has worked in between', async function () {
    let failing = true;
    const busy = new Proxy(new SqliteHubStore(store), {
      get(target, prop) {
        const value = target[prop];
        if (prop === 'pruneInbox') return (...args) => { if (failing) throw new Error('SQLITE_BUSY: database is locked'); return value.apply(target, args); };
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const k = keeper({}, busy);
    await k.spell();
    await k.spell();
    reports.should.eql([['failed', 'SQLITE_BUSY: database is locked']]);
    failing = false;
    await k.spell();
    failing = true;
    await k.spell();
    reports.length.should.equal(2);
  });

  it('makes no store call once stopped, even half-way through a spell', async function () {
    await receive('in', ['a1', 'a2', 'a3', 'a4'], { handed: true });
    clock.t += 8 * DAY;
    const k = keeper({ batch: 1 });
    const spell = k.spell(); // the first batch runs now, the rest after turns of the event loop
    k.stop();
    store.close(); // what the last lease's release does right after stopping it
    await spell;
    reports.should.eql([]); // a closed store was not called (it would have thrown)
    count('SELECT COUNT(*) FROM inbox').should.equal(3);
  });
});
