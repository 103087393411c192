'use strict';
// The inbox keeps events per app (scope): two apps of one company that receive the same content each keep
// it; one app's duplicates are still duplicates. Stores written before scopes are rebuilt in place.
require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const Database = require('better-sqlite3');
const { EventStore } = require('../../../core/store/event-store');
const { eventIdOf } = require('../../../core/events');

describe('core/store inbox scope', function () {
  let dir;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inbox-scope-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('the same event id received by two apps is two events; within one app it is a duplicate', async function () {
    const store = new EventStore(path.join(dir, 'hub.sqlite'));
    try {
      (await store.accept('e1', 'in-a', { n: 1 }, undefined, 'app-a')).should.equal('new');
      (await store.accept('e1', 'in-b', { n: 1 }, undefined, 'app-b')).should.equal('new');
      (await store.accept('e1', 'in-a2', { n: 1 }, undefined, 'app-a')).should.equal('duplicate'); // another receiver of app a
      // both in flight at once: still one per app
      const [x, y] = await Promise.all([store.accept('e2', 'in-a', {}, undefined, 'app-a'), store.accept('e2', 'in-b', {}, undefined, 'app-b')]);
      [x, y].should.eql(['new', 'new']);
      store.pendingInbox('in-a').map((r) => r.eventId).should.eql(['e1', 'e2']);
      store.pendingInbox('in-b').map((r) => r.eventId).should.eql(['e1', 'e2']);
      (await store.markHanded('in-a', ['e1'])).should.equal(1);
      store.pendingInbox('in-a').map((r) => r.eventId).should.eql(['e2']);
      store.pendingInbox('in-b').map((r) => r.eventId).should.eql(['e1', 'e2']); // app b's copy is its own
      JSON.parse(store.pendingMessage('in-b', 'e1')).should.eql({ n: 1 });
      (store.pendingMessage('in-a', 'e1') === undefined).should.be.true(); // handed on
    } finally {
      store.close();
    }
  });

  it('an event without eventId gets an id of its content and its app: two legacy apps of one company differ', function () {
    const plaintext = JSON.stringify({ EventType: 'user_add_org', TimeStamp: '1717000000000', CorpId: 'ding1', UserId: ['u1'] });
    const event = JSON.parse(plaintext);
    eventIdOf(event, plaintext, 'app-a').should.equal(eventIdOf(event, plaintext, 'app-a')); // a retry keeps its id
    eventIdOf(event, plaintext, 'app-a').should.not.equal(eventIdOf(event, plaintext, 'app-b'));
    eventIdOf({ eventId: 'given' }, '{"eventId":"given"}', 'app-a').should.equal('given'); // DingTalk's own id as it is
  });

  it('a store from before scopes is rebuilt once, keeping its rows as duplicates for every app', async function () {
    const file = path.join(dir, 'old.sqlite');
    const old = new Database(file);
    old.exec(`CREATE TABLE inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, receiver TEXT NOT NULL,
      received_at INTEGER NOT NULL, handed INTEGER NOT NULL DEFAULT 0, message TEXT NOT NULL);
      CREATE INDEX inbox_pending ON inbox (receiver, handed, seq); CREATE INDEX inbox_age ON inbox (received_at);`);
    old.prepare('INSERT INTO inbox (event_id, receiver, received_at, handed, message) VALUES (?, ?, ?, ?, ?)').run('old-1', 'in-a', 1, 0, '{"m":1}');
    old.prepare('INSERT INTO inbox (event_id, receiver, received_at, handed, message) VALUES (?, ?, ?, ?, ?)').run('old-2', 'in-a', 2, 1, '{"m":2}');
    old.close();
    for (let open = 0; open < 2; open++) { // the second open finds it migrated already
      const store = new EventStore(file);
      try {
        store.pendingInbox('in-a').map((r) => r.eventId).should.eql(open === 0 ? ['old-1'] : ['old-1', 'new-0']);
        (await store.accept('old-2', 'in-x', {}, undefined, 'app-x')).should.equal('duplicate');
        (await store.accept(`new-${open}`, 'in-a', {}, `key-${open}`, 'app-a')).should.equal('new');
      } finally {
        store.close();
      }
    }
    const check = new Database(file, { readonly: true });
    const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'inbox' AND name NOT LIKE 'sqlite_%'").pluck().all().sort();
    check.close();
    indexes.should.eql(['inbox_age', 'inbox_content', 'inbox_event', 'inbox_pending']);
  });
});
