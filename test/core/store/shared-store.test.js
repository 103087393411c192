'use strict';
// One store per file for the runtime: what it reports about its file reaches one user's log, not every
// node's, and never a node that has let go.
require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { acquireStore } = require('../../../core/store/shared-store');

describe('core/store shared store', function () {
  let dir;
  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-shared-'));
  });
  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const restoredAfterDeleting = async (lease, file, heard) => {
    const before = heard.length;
    fs.unlinkSync(file);
    await lease.store.accept(`e${before}`, 'in', {}).then(() => { throw new Error('acknowledged into a deleted file'); }, () => {});
    for (let i = 0; i < 100 && !heard.slice(before).some((h) => h.kind === 'restored'); i += 1) await new Promise((r) => setTimeout(r, 20));
  };

  it('tells the longest-standing user with a listener, once; the next one after it let go', async function () {
    const file = path.join(dir, 'hub.sqlite');
    const heard = [];
    const first = acquireStore(file, { onEvent: (e) => heard.push({ who: 'first', kind: e.kind }) });
    const silent = acquireStore(file);
    const second = acquireStore(file, { onEvent: (e) => heard.push({ who: 'second', kind: e.kind }) });
    try {
      first.store.should.equal(second.store);
      await restoredAfterDeleting(first, file, heard);
      heard.should.eql([{ who: 'first', kind: 'file-lost' }, { who: 'first', kind: 'restored' }]);
      first.release();
      await restoredAfterDeleting(second, file, heard);
      heard.slice(2).should.eql([{ who: 'second', kind: 'file-lost' }, { who: 'second', kind: 'restored' }]);
    } finally {
      first.release();
      silent.release();
      second.release();
    }
  });

  it('the last user to let go hears what closing did: a lost file restored', function () {
    const file = path.join(dir, 'hub.sqlite');
    const heard = [];
    const lease = acquireStore(file, { onEvent: (e) => heard.push(e.kind) });
    fs.unlinkSync(file);
    lease.release();
    heard.should.eql(['file-lost', 'restored']);
    fs.existsSync(file).should.be.true();
  });
});
