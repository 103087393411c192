'use strict';
// What the store's open failures are sorted into, from the errors the real libraries throw.
require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { describeStoreFailure } = require('../../../core/store/store-failure');
const { EventStore } = require('../../../core/store/event-store');
const { copyWithoutCompiledModule } = require('../../support/installed-package');

const openError = (fn) => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the store not to open');
};

describe('core/store/store-failure', function () {
  let dir;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-failure-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a compiled module that does not load is "native-module", with the first line of the error only', function () {
    const Database = require('better-sqlite3');
    const fake = path.join(dir, 'better_sqlite3.node');
    fs.writeFileSync(fake, 'not a shared library');
    const dlopen = describeStoreFailure(openError(() => new Database(path.join(dir, 'a.sqlite'), { nativeBinding: fake })));
    dlopen.kind.should.equal('native-module');
    dlopen.detail.should.containEql(fake);
    // What better-sqlite3 throws when its compiled module is missing (an install that built nothing): many
    // lines, the paths tried (12.x) or a require stack (13.x).
    const Unbuilt = require(copyWithoutCompiledModule('better-sqlite3', dir));
    const missing = openError(() => new Unbuilt(':memory:'));
    const lines = missing.message.split('\n');
    lines.length.should.be.above(2);
    lines[0].should.match(/better_sqlite3\.node|bindings file/);
    describeStoreFailure(missing).should.eql({ kind: 'native-module', detail: lines[0].trim() });
    // Node's own words for a module built for another Node.js (ABI), as after an upgrade of Node.
    describeStoreFailure(Object.assign(new Error(
      "The module '/srv/node-red/node_modules/better-sqlite3/build/Release/better_sqlite3.node'\nwas compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of Node.js requires\nNODE_MODULE_VERSION 127."), { code: 'ERR_DLOPEN_FAILED' })).kind.should.equal('native-module');
  });

  it('a path that cannot be created or opened is "file"', function () {
    const blocker = path.join(dir, 'a-file');
    fs.writeFileSync(blocker, 'x');
    const notDir = describeStoreFailure(openError(() => new EventStore(path.join(blocker, 'hub.sqlite'))));
    notDir.kind.should.equal('file');
    const folder = describeStoreFailure(openError(() => new EventStore(dir))); // a folder where the file should be
    folder.should.eql({ kind: 'file', detail: 'unable to open database file' });
  });

  it('a file that is not a database is "damaged"; anything else is "other"', function () {
    const garbage = path.join(dir, 'hub.sqlite');
    fs.writeFileSync(garbage, 'x'.repeat(4096));
    describeStoreFailure(openError(() => new EventStore(garbage))).kind.should.equal('damaged');
    // The store that failed to open has let go of the file (Linux shows open files under /proc).
    const holders = fs.readdirSync('/proc/self/fd').filter((fd) => {
      try { return fs.readlinkSync(`/proc/self/fd/${fd}`) === garbage; } catch { return false; }
    });
    holders.should.eql([]);
    describeStoreFailure(new Error('something else')).should.eql({ kind: 'other', detail: 'something else' });
    describeStoreFailure('a string').should.eql({ kind: 'other', detail: 'a string' });
  });
});
