'use strict';
// The store's file deleted or replaced while it is open, on real files: nothing more is acknowledged
// (the receiver answers 503), the store restores its file from the open connection by itself, works
// again with the same object, and a store opened on the path later holds everything acknowledged
// before the loss and after the recovery, outbox included.
require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Database = require('better-sqlite3');
const { EventStore } = require('../../../core/store/event-store');
const { StoreFileLostError } = require('../../../core/store/file-recovery');
const { identify, sameFile } = require('../../../core/store/file-identity');
const { CallbackReceiver } = require('../../../core/receiver');
const { callbackCryptoFor } = require('../../../core/app-config');
const { tempDir } = require('../../support/temp');
const { APP, makePush } = require('../../support/push');

const settings = { appKey: APP.appKey, corpId: APP.corpId, callbackStyle: 'event-subscription', token: APP.token, aesKey: APP.aesKey };
const pushOf = (eventId) => {
  const p = makePush(JSON.stringify({ EventType: 'user_add_org', eventId, CorpId: APP.corpId, EventTime: 1717000000001 }));
  return { method: 'POST', query: Object.fromEntries(new URLSearchParams(p.query)), body: { kind: 'raw', bytes: Buffer.from(p.body) } };
};

/** A store whose events are collected; `next(kind)` resolves with the next event of that kind. */
function openStore(file, options = {}) {
  const events = [];
  const waiters = [];
  const store = new EventStore(file, {
    fileCheckMs: 60_000, // only the checks a test asks for, unless it sets its own
    ...options,
    onEvent: (e) => {
      events.push(e);
      for (const w of waiters.filter((x) => x.kind === e.kind)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    },
  });
  const next = (kind) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${kind} event; got ${JSON.stringify(events)}`)), 5000);
    waiters.push({ kind, resolve: (e) => { clearTimeout(timer); resolve(e); } });
  });
  return { store, events, next };
}

/** What a fresh connection finds in the file at `file`, after the store has closed it. */
function contents(file) {
  const db = new Database(file, { readonly: true });
  try {
    return {
      ok: db.pragma('integrity_check', { simple: true }),
      inbox: db.prepare('SELECT event_id FROM inbox ORDER BY seq').pluck().all(),
      outbox: db.prepare("SELECT subscriber || '/' || event_id FROM outbox WHERE state = 'queued' ORDER BY id").pluck().all(),
    };
  } finally {
    db.close();
  }
}

const sqliteFiles = (dir) => fs.readdirSync(dir).sort();

describe('core/store file deleted or replaced while open', function () {
  let dir;
  let file;
  let opened = [];
  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-lost-'));
    file = path.join(dir, 'hub.sqlite');
  });
  afterEach(function () {
    for (const s of opened) s.close();
    opened = [];
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const open = (options) => {
    const s = openStore(file, options);
    opened.push(s.store);
    return s;
  };

  async function fill(store, prefix) {
    for (let i = 1; i <= 3; i += 1) (await store.accept(`${prefix}${i}`, 'in', { n: i })).should.equal('new');
    (await store.enqueue('erp', `${prefix}1`, 'x', '{}')).should.equal('new');
    (await store.enqueue('crm', `${prefix}2`, 'x', '{}')).should.equal('new');
  }

  async function lostThenRestored(s, lose, expected, whenRestored = () => {}) {
    const { store, events, next } = s;
    await fill(store, 'before-');
    const lost = next('file-lost');
    const restored = next('restored');
    lose();
    // The next acknowledgement is refused, naming the file and what happened to it.
    const err = await store.accept('during', 'in', { n: 0 }).then(() => null, (e) => e);
    (err instanceof StoreFileLostError).should.be.true(`accept resolved or failed otherwise: ${err}`);
    err.message.should.containEql(expected.file);
    err.message.should.containEql(expected.state);
    (await lost).should.have.properties({ kind: 'file-lost', path: file, file: expected.file, state: expected.state });
    const back = await restored;
    whenRestored();
    // Recovered without a restart, on the same object: the refused event is new (it was forgotten).
    (await store.accept('during', 'in', { n: 0 })).should.equal('new');
    await fill(store, 'after-');
    (await store.accept('before-1', 'in', {})).should.equal('duplicate');
    (await store.enqueue('erp', 'before-1', 'x', '{}')).should.equal('duplicate');
    store.pendingInbox('in').map((r) => r.eventId).should.eql(['before-1', 'before-2', 'before-3', 'during', 'after-1', 'after-2', 'after-3']);
    events.map((e) => e.kind).should.eql(['file-lost', 'restored']); // one warning, one "back"
    store.close();
    const found = contents(file);
    found.should.eql({
      ok: 'ok', // no stale -wal replayed into the restored file
      inbox: ['before-1', 'before-2', 'before-3', 'during', 'after-1', 'after-2', 'after-3'],
      outbox: ['erp/before-1', 'crm/before-2', 'erp/after-1', 'crm/after-2'],
    });
    // And the store that the next start opens sees the same.
    const again = open();
    again.store.pendingInbox('in').length.should.equal(7);
    again.store.counts('erp').queued.should.equal(2);
    return back;
  }

  it('main file deleted: refuses, restores the file and keeps everything', async function () {
    const s = open();
    const back = await lostThenRestored(s, () => fs.unlinkSync(file), { file, state: 'deleted' });
    back.movedAside.should.eql([]);
    sqliteFiles(dir).should.eql(['hub.sqlite', 'hub.sqlite-shm', 'hub.sqlite-wal']); // no copy left behind
  });

  it('main file, -wal and -shm deleted: the same', async function () {
    const s = open();
    await lostThenRestored(s, () => {
      for (const f of ['', '-wal', '-shm']) fs.unlinkSync(file + f);
    }, { file, state: 'deleted' });
  });

  it('only the -wal deleted: what it held would go with a crash, so it is restored too', async function () {
    const s = open();
    await lostThenRestored(s, () => fs.unlinkSync(`${file}-wal`), { file: `${file}-wal`, state: 'deleted' });
  });

  it('main file deleted while another connection holds it: its old -wal and -shm do not stay beside ours', async function () {
    const s = open();
    // An operator's shell on the file: with it open, closing the store's connection does not remove
    // <path>-wal and <path>-shm, and a WAL beside a main file is read as belonging to it.
    const shell = new Database(file);
    shell.prepare('SELECT COUNT(*) FROM inbox').pluck().get();
    const old = { wal: identify(`${file}-wal`), shm: identify(`${file}-shm`) };
    try {
      await lostThenRestored(s, () => fs.unlinkSync(file), { file, state: 'deleted' }, () => {
        sameFile(identify(`${file}-wal`), old.wal).should.be.false('the old -wal is beside the restored file');
        sameFile(identify(`${file}-shm`), old.shm).should.be.false('the old -shm is beside the restored file');
      });
    } finally {
      shell.close();
    }
  });

  it('the whole folder deleted: created again', async function () {
    file = path.join(dir, 'sub', 'hub.sqlite');
    const s = open();
    await lostThenRestored(s, () => fs.rmSync(path.dirname(file), { recursive: true }), { file, state: 'deleted' });
  });

  it('main file replaced by another database: ours goes back in place, the other is kept beside it', async function () {
    const s = open();
    const foreign = path.join(dir, 'other.sqlite');
    const other = new Database(foreign);
    other.exec("CREATE TABLE mine (v TEXT); INSERT INTO mine VALUES ('theirs')");
    other.close();
    const back = await lostThenRestored(s, () => fs.renameSync(foreign, file), { file, state: 'replaced' });
    back.movedAside.length.should.equal(1);
    const aside = back.movedAside[0];
    path.dirname(aside).should.equal(dir);
    path.basename(aside).should.match(/^hub\.sqlite\.replaced-\d{4}-\d\d-\d\dT[\d-]+Z$/);
    back.message.should.containEql(aside);
    const kept = new Database(aside, { readonly: true });
    kept.prepare('SELECT v FROM mine').pluck().all().should.eql(['theirs']);
    kept.close();
  });

  it('main file and -wal replaced by another database in WAL mode: both of theirs are kept beside it', async function () {
    const s = open();
    const foreignDir = tempDir('dingtalk-foreign-'); // removed after the test, passed or not
    const foreign = path.join(foreignDir, 'hub.sqlite');
    const other = new Database(foreign);
    other.pragma('journal_mode = WAL');
    other.exec("CREATE TABLE mine (v TEXT); INSERT INTO mine VALUES ('in their wal')");
    // Their frames are only in their -wal: copy both files as they are, without closing (which would checkpoint).
    fs.copyFileSync(foreign, `${foreign}.copy`);
    fs.copyFileSync(`${foreign}-wal`, `${foreign}.copy-wal`);
    other.close();
    const back = await lostThenRestored(s, () => {
      fs.renameSync(`${foreign}.copy`, file);
      fs.renameSync(`${foreign}.copy-wal`, `${file}-wal`);
    }, { file, state: 'replaced' });
    back.movedAside.length.should.equal(2);
    back.movedAside[1].should.equal(`${back.movedAside[0]}-wal`);
    const kept = new Database(back.movedAside[0]);
    kept.prepare('SELECT v FROM mine').pluck().all().should.eql(['in their wal']);
    kept.close();
  });

  it('notices a loss on its timer, with no write at all, and restores it', async function () {
    const { store, next } = open({ fileCheckMs: 50 });
    await fill(store, 'before-');
    const lost = next('file-lost');
    const restored = next('restored');
    fs.unlinkSync(file);
    (await lost).state.should.equal('deleted');
    await restored;
    fs.existsSync(file).should.be.true();
    store.close();
    contents(file).inbox.should.eql(['before-1', 'before-2', 'before-3']);
  });

  it('never acknowledges a push whose flush ran while the file was being deleted', async function () {
    const { store, next } = open();
    await fill(store, 'before-');
    const restored = next('restored');
    const realFsync = fs.fsync;
    const held = [];
    fs.fsync = (fd, cb) => held.push(() => realFsync(fd, cb));
    let accepting;
    try {
      accepting = store.accept('in-flight', 'in', {}).then(() => 'acknowledged', (e) => e);
      while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
      fs.unlinkSync(file); // committed and being flushed: the flush succeeds, into a deleted file
      held.shift()();
    } finally {
      fs.fsync = realFsync;
    }
    const outcome = await accepting;
    (outcome instanceof StoreFileLostError).should.be.true(`got ${outcome}`);
    await restored;
    (await store.accept('in-flight', 'in', {})).should.equal('new'); // DingTalk's retry is not a "duplicate"
  });

  it('the receiver answers 503 store-unavailable while the file is lost, success once restored', async function () {
    const { store, next } = open();
    const receiver = new CallbackReceiver(() => callbackCryptoFor(settings), (eventId, message) => store.accept(eventId, 'r1', message));
    (await receiver.handle(pushOf('e1'))).kind.should.equal('event');
    const restored = next('restored');
    fs.unlinkSync(file);
    const refused = await receiver.handle(pushOf('e2'));
    refused.should.have.properties({ kind: 'rejected', code: 'store-unavailable', status: 503 });
    refused.reason.should.containEql(file);
    await restored;
    (await receiver.handle(pushOf('e2'))).kind.should.equal('event');
    store.close();
    contents(file).inbox.should.eql(['e1', 'e2']);
  });

  it('a store closed while its file is lost restores it before letting go', async function () {
    const { store, events } = open();
    await fill(store, 'before-');
    fs.unlinkSync(file);
    store.close(); // before any check noticed: close looks itself
    events.map((e) => e.kind).should.eql(['file-lost', 'restored']);
    contents(file).should.eql({ ok: 'ok', inbox: ['before-1', 'before-2', 'before-3'], outbox: ['erp/before-1', 'crm/before-2'] });
  });

  it('keeps refusing while the file cannot be restored, says so once, and restores it when it can', async function () {
    const { store, events, next } = open({ fileCheckMs: 30 });
    await fill(store, 'before-');
    // A folder where the restore wants to put its copy: the copy fails on every try until it goes.
    const blocker = `${file}.restoring-${process.pid}`;
    fs.mkdirSync(blocker);
    fs.writeFileSync(path.join(blocker, 'x'), 'x');
    const failed = next('restore-failed');
    fs.unlinkSync(file);
    const report = await failed;
    report.message.should.containEql(file);
    await new Promise((r) => setTimeout(r, 200)); // bounded: several more tries, none reported again
    events.filter((e) => e.kind === 'restore-failed').length.should.equal(1);
    (await store.accept('during', 'in', {}).then(() => 'acknowledged', (e) => e)).should.be.instanceOf(StoreFileLostError);
    (await store.enqueue('erp', 'during', 'x', '{}').then(() => 'queued', (e) => e)).should.be.instanceOf(StoreFileLostError);
    const restored = next('restored');
    fs.rmSync(blocker, { recursive: true });
    await restored;
    (await store.accept('during', 'in', {})).should.equal('new');
    store.close();
    contents(file).inbox.should.eql(['before-1', 'before-2', 'before-3', 'during']);
  });
});
