'use strict';
// Group commit and the store's two kinds of write: inbox rows are flushed before accept() resolves;
// outbox writes alone commit without a flush of their own, and the connection goes back to FULL.
require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { GroupCommit } = require('../../../core/store/group-commit');
const { EventStore } = require('../../../core/store/event-store');

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

  it('the store flushes inbox writes (synchronous FULL) and leaves outbox-only batches to the next flush', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-gc-'));
    const store = new EventStore(path.join(dir, 'hub.sqlite'));
    const db = store['db'];
    const seen = [];
    const pragma = db.pragma.bind(db);
    db.pragma = (text, ...rest) => { if (/^synchronous = /.test(text)) seen.push(text); return pragma(text, ...rest); };
    try {
      (await store.accept('e1', 'in', { topic: 'x' })).should.equal('new');
      seen.should.eql([]); // the inbox row commits under FULL, the connection's setting
      (await store.enqueue('erp', 'e1', 'x', '{}')).should.equal('new');
      seen.should.eql(['synchronous = NORMAL', 'synchronous = FULL']);
      pragma('synchronous', { simple: true }).should.equal(2); // FULL again for everything else
      const [id] = store.dueIds('erp', 10);
      await store.recordDelivered(id, 200);
      store.counts('erp').delivered.should.equal(1);
    } finally {
      store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
