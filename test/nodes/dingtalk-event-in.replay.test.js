'use strict';
// Replays after the de-duplication window: a correctly signed push is refused by its signed timestamp
// when it is older than the window allows (or dated far ahead), before anything is stored or emitted.
require('should');
const Database = require('better-sqlite3');
const { makePush } = require('../support/push');
const { render } = require('../support/i18n');
const { helper, load, unload, request, standardFlow, standardCredentials, collect, callsOn, settle } = require('../support/runtime');

const DAY = 24 * 3600 * 1000;
const push = (event, timestamp) => {
  const p = makePush(JSON.stringify(event), { timestamp: String(timestamp) });
  return request(`/dingtalk/events?${p.query}`, { body: p.body });
};
const inboxIds = () => {
  const db = new Database(helper.settings().dingtalkStorePath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT event_id FROM inbox ORDER BY seq').all().map((r) => r.event_id);
  } finally {
    db.close();
  }
};

describe('dingtalk-event-in: signed timestamps outside the window', function () {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => unload());

  it('refuses a push signed 8 days ago (403 bad-timestamp), accepts one signed a minute ago, refuses one dated a day ahead', async function () {
    await load(standardFlow(), standardCredentials());
    const out = collect();
    const event = (id) => ({ EventType: 'bpms_instance_change', eventId: id, processInstanceId: `p-${id}`, type: 'finish', result: 'agree' });

    const old = await push(event('replayed'), Date.now() - 8 * DAY);
    old.status.should.equal(403);
    old.json.error.should.equal('bad-timestamp');
    old.json.message.should.match(/signed 691\d{3} s ago/);
    (old.json.encrypt === undefined).should.be.true(); // no "success"

    const ahead = await push(event('ahead'), Date.now() + DAY);
    ahead.status.should.equal(403);
    ahead.json.error.should.equal('bad-timestamp');

    const fresh = await push(event('fresh'), Date.now() - 60_000);
    fresh.status.should.equal(200);
    fresh.json.should.have.property('encrypt');

    await settle(300);
    out.map((m) => m.dingtalk.eventId).should.eql(['fresh']);
    inboxIds().should.eql(['fresh']); // the refused ones were never stored
    // so the refused id is new when DingTalk really sends it
    (await push(event('replayed'), Date.now())).status.should.equal(200);
    await settle(100);
    out.map((m) => m.dingtalk.eventId).should.eql(['fresh', 'replayed']);

    const warnings = callsOn(helper.getNode('in'), 'warn').map((a) => String(a[0])).filter((w) => w.includes('bad-timestamp'));
    warnings.length.should.equal(2);
  });

  it('logs why in words: too old with the setting to change, or ahead with the clock to check', async function () {
    await load(standardFlow(), standardCredentials(), { nodes: [(RED) => { RED._ = render; }] });
    await push({ EventType: 'user_add_org', eventId: 'x1' }, Date.now() - 8 * DAY);
    await push({ EventType: 'user_add_org', eventId: 'x2' }, Date.now() + DAY);
    const lines = callsOn(helper.getNode('in'), 'warn').map((a) => String(a[0]));
    lines.some((l) => /^Rejected a push with HTTP 403 \(bad-timestamp\): the push was signed 691\d{3} s ago, more than the 604200 s allowed \(setting dingtalkEventInMaxAgeSeconds\)/.test(l)).should.be.true(lines.join('\n'));
    lines.some((l) => /dated 864\d\d s ahead of this server's clock, more than the 600 s allowed/.test(l)).should.be.true(lines.join('\n'));
  });

  it('dingtalkEventInMaxAgeSeconds sets the window', async function () {
    helper.settings({ ...helper.settings(), dingtalkEventInMaxAgeSeconds: 30 });
    try {
      await load(standardFlow(), standardCredentials());
      (await push({ EventType: 'user_add_org', eventId: 'y1' }, Date.now() - 60_000)).json.error.should.equal('bad-timestamp');
      (await push({ EventType: 'user_add_org', eventId: 'y2' }, Date.now() - 10_000)).status.should.equal(200);
    } finally {
      helper.settings({ ...helper.settings(), dingtalkEventInMaxAgeSeconds: undefined });
    }
  });
});
