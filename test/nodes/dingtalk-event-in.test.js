'use strict';
const should = require('should');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { APP, makePush, openReply } = require('../support/push');
const { eventFixtures } = require('../support/shared');
const { until } = require('../support/fake-gateway');
const { waitFor } = require('../support/wait');
const { contentId } = require('../../core/events');
const Database = require('better-sqlite3');
const {
  helper, load, unload, request, standardFlow, standardCredentials, collect, callsOn, settle, state, freshStore,
} = require('../support/runtime');

const PATH = '/dingtalk/events';
const push = (plaintext, options, path = PATH) => {
  const p = makePush(plaintext, options);
  return request(`${path}?${p.query}`, { body: p.body });
};
/** The inbox's hand-off flag of one event (1 = finished in the flow), read from the store file. */
function handedFlag(eventId) {
  const db = new Database(helper.settings().dingtalkStorePath, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT handed FROM inbox WHERE event_id = ?').get(eventId)?.handed;
  } finally {
    db.close();
  }
}
const URL_CHECKS = new Set(['check_url', 'check_create_suite_url', 'check_update_suite_url']);

describe('dingtalk-event-in', function () {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => unload());

  describe('every fixture over HTTP', function () {
    const fixtures = eventFixtures();

    it('has top-level and legacy fixtures to push', function () {
      fixtures.filter((f) => f.name.startsWith('legacy')).length.should.be.above(20);
      fixtures.filter((f) => !f.name.startsWith('legacy')).length.should.be.above(40);
    });

    it('answers each with a verifiable encrypted success and emits each business event once, unchanged', async function () {
      await load(standardFlow(), standardCredentials());
      const out = collect();
      const expected = [];
      for (const [i, f] of fixtures.entries()) {
        const res = await push(f.plaintext, { style: i % 2 ? 'legacy' : 'console' });
        res.status.should.equal(200, `${f.name}: ${res.text}`);
        res.headers.get('content-type').should.startWith('application/json');
        openReply(res.json).should.equal('success', f.name);
        // The legacy approval fixture is the same approval as the console one (same instance, type and
        // result): it is recognised by its content key and answered without being emitted again.
        if (!URL_CHECKS.has(f.payload.EventType) && f.name !== 'legacy/bpms_instance_change.json') expected.push(f);
      }
      await waitFor(() => out.length >= expected.length, { what: 'every fixture emitted' });
      out.length.should.equal(expected.length);
      out.forEach((msg, i) => {
        const f = expected[i];
        msg.payload.should.eql(f.payload, f.name);
        msg.topic.should.equal(f.payload.EventType.trim());
        msg.dingtalk.source.should.equal('http');
        msg.dingtalk.eventType.should.equal(msg.topic);
        msg.dingtalk.receivedAt.should.be.a.Number();
        should.not.exist(msg.req);
        should.not.exist(msg.res);
        if (f.payload.eventId) msg.dingtalk.eventId.should.equal(f.payload.eventId);
        else msg.dingtalk.eventId.should.match(/^sha256:[0-9a-f]{32}$/);
        if (f.payload.CorpId) msg.dingtalk.corpId.should.equal(f.payload.CorpId);
        if (typeof f.payload.EventTime === 'number') msg.dingtalk.eventTime.should.equal(f.payload.EventTime);
      });
      const ids = new Set(out.map((m) => m.dingtalk.eventId));
      ids.size.should.equal(out.length);
    });
  });

  describe('URL checks', function () {
    it('answers check_url itself, with both signature parameter names, and does not emit it', async function () {
      await load(standardFlow(), standardCredentials());
      const out = collect();
      for (const style of ['console', 'legacy']) {
        const res = await push('{"EventType":"check_url"}', { style });
        res.status.should.equal(200);
        openReply(res.json).should.equal('success');
      }
      await settle(); // bounded: nothing may be emitted (checks are answered, not emitted)
      out.length.should.equal(0);
      const logs = callsOn(helper.getNode('in'), 'log').map((a) => a[0]);
      logs.filter((l) => String(l).includes('dingtalk-event-in.log.check')).length.should.equal(2);
    });

    it('accepts timeStamp spelt as the official library reads it', async function () {
      await load(standardFlow(), standardCredentials());
      const p = makePush('{"EventType":"check_url"}');
      const res = await request(`${PATH}?${p.query.replace('timestamp=', 'timeStamp=')}`, { body: p.body });
      res.status.should.equal(200);
    });

    it('ISV: answers check_create_suite_url sent for the placeholder suite key, replying for that key', async function () {
      await load(standardFlow({ app: { appKey: 'suitewz7h3k9qpx2m5ty', callbackStyle: 'isv' } }), standardCredentials());
      const out = collect();
      const body = '{"EventType":"check_create_suite_url","Random":"brdkKLMW","TestSuiteKey":"suite4xxxxxxxxxxxxxxx"}';
      const res = await push(body, { receiveId: 'suite4xxxxxxxxxxxxxxx' });
      res.status.should.equal(200);
      openReply(res.json, { receiveId: 'suite4xxxxxxxxxxxxxxx' }).should.equal('success');
      // the placeholder is not good for anything else
      const other = await push('{"EventType":"suite_ticket","SuiteTicket":"x"}', { receiveId: 'suite4xxxxxxxxxxxxxxx' });
      other.status.should.equal(400);
      other.json.error.should.equal('receive-id-mismatch');
      // the real suite key is
      const ticket = await push('{"EventType":"suite_ticket","SuiteTicket":"x"}', { receiveId: 'suitewz7h3k9qpx2m5ty' });
      ticket.status.should.equal(200);
      await waitFor(() => out.length >= 1, { what: 'the suite ticket emitted' });
      out.map((m) => m.topic).should.eql(['suite_ticket']);
    });

    it('legacy register_call_back style checks the corpId', async function () {
      await load(standardFlow({ app: { callbackStyle: 'register-call-back' } }), standardCredentials());
      (await push('{"EventType":"check_url"}', { receiveId: APP.corpId })).status.should.equal(200);
      (await push('{"EventType":"check_url"}', { receiveId: APP.appKey })).status.should.equal(400);
    });
  });

  describe('durable inbox', function () {
    it('remembers events across a restart: a re-push is a duplicate; an event still held in the flow is emitted again', async function () {
      const flow = () => standardFlow({ extra: [{ id: 'hold', type: 'dingtalk-test-hold' }] }).map((n) => (n.id === 'in' ? { ...n, wires: [['out', 'hold']] } : n));
      await load(flow(), standardCredentials());
      let out = collect();
      const held = JSON.stringify({ EventType: 'user_add_org', eventId: 'persisted-1', userId: ['u1'] });
      const finished = JSON.stringify({ EventType: 'user_add_org', eventId: 'finished-1', userId: ['u2'] });
      (await push(held)).status.should.equal(200);
      (await push(finished)).status.should.equal(200);
      await waitFor(() => out.length >= 2, { what: 'both events emitted' });
      out.length.should.equal(2);
      should.not.exist(out[0].dingtalk.redelivered);
      state.held.length.should.equal(2);
      state.held.find((h) => h.msg.dingtalk.eventId === 'finished-1').done(); // persisted-1 never finishes
      await waitFor(() => handedFlag('finished-1') === 1, { what: 'the hand-off of finished-1 written' });
      await unload(); // the runtime stops; the store file stays
      await load(flow(), standardCredentials(), { keepStore: true });
      out = collect();
      await waitFor(() => out.length >= 1, { what: 'persisted-1 emitted again' });
      await settle(100); // bounded: finished-1 must not follow
      // acknowledged but not finished in the flow before the restart: emitted again, flagged; finished-1 is not
      out.map((m) => m.dingtalk.eventId).should.eql(['persisted-1']);
      out[0].dingtalk.should.have.properties({ eventId: 'persisted-1', redelivered: true });
      out[0].payload.userId.should.eql(['u1']);
      for (const event of [held, finished]) {
        const again = await push(event);
        again.status.should.equal(200);
        openReply(again.json).should.equal('success');
      }
      await waitFor(() => out.length >= 1, { what: 'the first event emitted' });
      await settle(); // bounded: the duplicates must not follow
      out.length.should.equal(1); // duplicates, recognised from disk
    });

    it('a message a node never reports done counts as finished after dingtalkEventInHandoffSeconds, logged once per node', async function () {
      const flow = () => standardFlow({ extra: [{ id: 'hold', type: 'dingtalk-test-hold' }] }).map((n) => (n.id === 'in' ? { ...n, wires: [['hold']] } : n));
      const before = helper.settings();
      helper.settings({ ...before, dingtalkEventInHandoffSeconds: 0.3 });
      try {
        await load(flow(), standardCredentials());
        for (const id of ['stuck-1', 'stuck-2']) (await push(JSON.stringify({ EventType: 'user_add_org', eventId: id, userId: ['u1'] }))).status.should.equal(200);
        await waitFor(() => state.held.length >= 2, { what: 'both events held' });
        state.held.length.should.equal(2);
        const warned = () => helper.log().args.filter((a) => String(a[0]?.msg ?? '').includes('handoff-stuck'));
        await until('the limit', () => warned().length > 0, 5000);
        await settle(300); // bounded: the second one reaches the limit too, and must not warn again
        warned().length.should.equal(1); // once for the node, not per message
        String(warned()[0][0].msg).should.containEql('hold');
        await unload();
        await load(flow(), standardCredentials(), { keepStore: true });
        await settle(200); // bounded: nothing may be emitted again after the restart
        state.held.length.should.equal(0); // handed on: not emitted again after the restart
      } finally {
        helper.settings({ ...helper.settings(), dingtalkEventInHandoffSeconds: undefined });
      }
    });

    it('answers 503 and does not acknowledge when the store cannot be opened', async function () {
      const notADir = path.join(freshStore(), 'a-file');
      fs.writeFileSync(notADir, 'x'); // the store's folder would have to be inside a file: cannot be opened
      helper.settings({ ...helper.settings(), dingtalkStorePath: path.join(notADir, 'hub.sqlite') });
      await load(standardFlow(), standardCredentials(), { keepStore: true });
      const out = collect();
      const res = await push(JSON.stringify({ EventType: 'user_add_org', eventId: 'x' }));
      res.status.should.equal(503);
      res.json.error.should.equal('store-unavailable');
      should.not.exist(res.json.encrypt);
      callsOn(helper.getNode('in'), 'error').map((a) => String(a[0])).some((e) => e.startsWith('dingtalk-event-in.errors.store')).should.be.true();
      await settle(); // bounded: the counters' status update has run by now; it must not paint over the problem
      callsOn(helper.getNode('in'), 'status').pop()[0].should.have.properties({ fill: 'red', text: 'dingtalk-event-in.status.store-error' });
      out.length.should.equal(0);
    });
  });

  describe('distinct events that look alike', function () {
    it('two apps of one company, the same change pushed to each with its own event id: both emitted', async function () {
      const APP2 = { appKey: 'dingsecondapp0002', token: 'secondToken2026', aesKey: 'aT7vQ2mZp9LxR4sNw8YbC3dF6gHj1KoE5uAiV0rWq3j' };
      await load(standardFlow({ extra: [
        { id: 'app2', type: 'dingtalk-app', name: 'app 2', appKey: APP2.appKey, corpId: APP.corpId, callbackStyle: 'event-subscription' },
        { id: 'in2', type: 'dingtalk-event-in', app: 'app2', url: '/dingtalk/events2', wires: [['out2']] },
        { id: 'out2', type: 'helper' },
      ] }), { ...standardCredentials(), app2: { token: APP2.token, aesKey: APP2.aesKey } });
      const out1 = collect('out');
      const out2 = collect('out2');
      const change = { EventType: 'user_add_org', EventTime: 1747707312345, CorpId: APP.corpId, userId: ['u1'] };
      (await push(JSON.stringify({ ...change, eventId: 'app1-evt' }))).status.should.equal(200);
      (await push(JSON.stringify({ ...change, eventId: 'app2-evt' }), { token: APP2.token, aesKey: APP2.aesKey, receiveId: APP2.appKey }, '/dingtalk/events2')).status.should.equal(200);
      await waitFor(() => out1.length >= 1 && out2.length >= 1, { what: 'an event on each receiver' });
      out1.map((m) => m.dingtalk.eventId).should.eql(['app1-evt']);
      out2.map((m) => m.dingtalk.eventId).should.eql(['app2-evt']);
    });

    it('two clock-ins of different people in the same millisecond: both emitted', async function () {
      await load(standardFlow(), standardCredentials());
      const out = collect();
      const clockIn = (id, user) => JSON.stringify({ EventType: 'attendance_check_record', EventTime: 1747708332345, CorpId: APP.corpId,
        eventId: id, dataList: [{ userId: user, checkTime: 1747705512345, corpId: APP.corpId }] });
      (await push(clockIn('evt-a', 'alice'))).status.should.equal(200);
      (await push(clockIn('evt-b', 'bob'))).status.should.equal(200);
      await waitFor(() => out.length >= 2, { what: 'both events emitted' });
      out.map((m) => m.payload.dataList[0].userId).should.eql(['alice', 'bob']);
    });
  });

  describe('store failing while running', function () {
    it('answers 503 and shows "store unavailable" instead of the counters', async function () {
      const { acquireStore } = require('../../core/store/shared-store');
      await load(standardFlow(), standardCredentials());
      const out = collect();
      (await push(JSON.stringify({ EventType: 'user_add_org', eventId: 'before' }))).status.should.equal(200);
      await waitFor(() => callsOn(helper.getNode('in'), 'status').pop()?.[0].fill === 'green', { what: 'the green status' });
      callsOn(helper.getNode('in'), 'status').pop()[0].should.have.properties({ fill: 'green' });
      // The runtime's own store, closed under the node as a failing disk would leave it: writes fail.
      const lease = acquireStore(helper.settings().dingtalkStorePath);
      try {
        lease.store.close();
        const res = await push(JSON.stringify({ EventType: 'user_add_org', eventId: 'during' }));
        res.status.should.equal(503);
        res.json.error.should.equal('store-unavailable');
        should.not.exist(res.json.encrypt);
        await waitFor(() => callsOn(helper.getNode('in'), 'status').pop()?.[0].text === 'dingtalk-event-in.status.store-error', { what: 'the store-error status' });
        callsOn(helper.getNode('in'), 'status').pop()[0].should.have.properties({ fill: 'red', text: 'dingtalk-event-in.status.store-error' });
        out.map((m) => m.dingtalk.eventId).should.eql(['before']);
      } finally {
        lease.release();
      }
    });
  });

  describe('poison events (authentic pushes that cannot be events)', function () {
    const catchNode = require('@node-red/nodes/core/common/25-catch.js');
    // On a tab (x and y make them flow nodes, not config nodes), with a catch node scoped to the
    // receiver, as a user would wire it.
    const flowWithCatch = () => [
      { id: 'tab', type: 'tab' },
      ...standardFlow().map((n) => (n.type === 'dingtalk-app' ? n : { ...n, z: 'tab', x: 0, y: 0 })),
      { id: 'catch', z: 'tab', x: 0, y: 0, type: 'catch', scope: ['in'], uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab', x: 0, y: 0, type: 'helper' },
    ];
    // An object holding arrays `levels` deep in all: two characters a level, under the 256 KiB body limit.
    const nested = (levels) => '{"a":' + '['.repeat(levels - 1) + ']'.repeat(levels - 1) + '}';

    it('answers 200 success, emits nothing, hands the text to a catch node, logs one escaped line; later pushes still work', async function () {
      await load(flowWithCatch(), standardCredentials(), { nodes: [catchNode] });
      const out = collect();
      const caught = collect('caught');
      const node = helper.getNode('in');
      const deep = nested(50_000);
      const notJson = 'line one\nline two\u2028"quoted" ' + 'x'.repeat(200);
      const texts = [[deep, 'too-deep'], [notJson, 'not-json'], ['[1,2]', 'not-object']];
      for (const [text] of texts) {
        const res = await push(text);
        res.status.should.equal(200, res.text);
        openReply(res.json).should.equal('success');
      }
      const after = await push(JSON.stringify({ EventType: 'user_add_org', eventId: 'after-poison' }));
      after.status.should.equal(200);
      await waitFor(() => out.length >= 1 && caught.length >= 3, { what: 'the good push emitted and the poison caught' });
      out.map((m) => m.dingtalk.eventId).should.eql(['after-poison']);
      caught.length.should.equal(3);
      caught.forEach((msg, i) => {
        const [text, reason] = texts[i];
        msg.payload.should.equal(text);
        msg.topic.should.equal('');
        msg.dingtalk.should.have.properties({ poison: reason, eventId: contentId(text), eventType: '', source: 'http' });
        msg.dingtalk.receivedAt.should.be.a.Number();
        msg.error.source.id.should.equal('in');
      });
      // one warning per poison push, on one line, with the start of the text escaped and the rest left out
      const warnings = callsOn(node, 'warn').map((a) => String(a[0])).filter((w) => w.startsWith('dingtalk-event-in.errors.poison'));
      warnings.length.should.equal(3);
      for (const w of warnings) w.should.not.match(/[\n\r\u2028\u2029]/);
      const params = warnings.map((w) => JSON.parse(w.slice(w.indexOf(' ') + 1))); // the test RED._ appends them as JSON
      params.map((p) => p.reason).should.eql(['too-deep', 'not-json', 'not-object']);
      params[0].length.should.equal(deep.length);
      params[0].start.should.equal(JSON.stringify(deep.slice(0, 80)) + '…');
      params[1].start.should.equal('"line one\\nline two\\u2028\\"quoted\\" ' + 'x'.repeat(53) + '"…'); // 80 characters in all
      params[1].id.should.equal(`"${contentId(notJson)}"`);
      params[2].start.should.equal('"[1,2]"');
      callsOn(node, 'error').map((a) => String(a[0])).filter((e) => e.startsWith('dingtalk-event-in.errors.poison-caught')).length.should.equal(3);
      // not a failure of the node: the counters, green, with a poison count
      // the status is rate-limited: wait for the one that counts it
      const status = await waitFor(() => { const s = callsOn(node, 'status').pop()?.[0]; return String(s?.text).includes('"poison":3') && s; }, { what: 'the status counting three poison pushes' });
      status.fill.should.equal('green');
      status.text.should.startWith('dingtalk-event-in.status.counts-poison').and.containEql('"poison":3').and.containEql('"received":1');
      // never stored: the same text again is not a duplicate of anything, it is caught again
      (await push('[1,2]')).status.should.equal(200);
      await waitFor(() => caught.length >= 4, { what: 'the fourth poison caught' });
      caught.length.should.equal(4);
    });
  });

  describe('store file deleted while running', function () {
    it('answers 503 with one warning, restores the file by itself, then answers success again; nothing is lost', async function () {
      await load(standardFlow(), standardCredentials());
      const out = collect();
      const node = helper.getNode('in');
      const event = (id) => JSON.stringify({ EventType: 'user_add_org', eventId: id });
      (await push(event('before'))).status.should.equal(200);
      const file = helper.settings().dingtalkStorePath;
      fs.unlinkSync(file);
      const res = await push(event('during'));
      res.status.should.equal(503);
      res.json.error.should.equal('store-unavailable');
      res.json.message.should.containEql(file);
      const logged = (method, key) => callsOn(node, method).map((a) => String(a[0])).filter((l) => l.includes(`dingtalk-app.store-file.${key} `));
      await waitFor(() => logged('log', 'restored').length > 0, { what: 'the store restored log line' });
      logged('warn', 'deleted').length.should.equal(1);
      logged('warn', 'deleted')[0].should.containEql(file); // the test runtime shows the key and its parameters
      logged('log', 'restored').length.should.equal(1);
      const again = await push(event('during'));
      again.status.should.equal(200);
      openReply(again.json).should.equal('success');
      (await push(event('after'))).status.should.equal(200);
      await waitFor(() => out.length >= 3, { what: 'three events emitted' });
      out.map((m) => m.dingtalk.eventId).should.eql(['before', 'during', 'after']);
      await unload();
      fs.existsSync(file).should.be.true();
      await load(standardFlow(), standardCredentials(), { keepStore: true });
      const again2 = collect();
      // all three are known from the restored file (duplicates) and had finished in the flow (not emitted again)
      for (const id of ['before', 'during', 'after']) (await push(event(id))).status.should.equal(200);
      await settle(100); // bounded: none of the duplicates may be emitted
      again2.length.should.equal(0);
    });
  });

  describe('normalise option', function () {
    it('emits legacy events in the console shape when "normalise payload" is on', async function () {
      const flow = standardFlow();
      flow[1].normalise = true;
      await load(flow, standardCredentials());
      const out = collect();
      const legacy = eventFixtures().find((f) => f.name === 'legacy/user_add_org.json');
      (await push(legacy.plaintext)).status.should.equal(200);
      await waitFor(() => out.length >= 1, { what: 'the legacy event emitted' });
      out.length.should.equal(1);
      out[0].payload.should.have.properties({ userId: legacy.payload.UserId, CorpId: legacy.payload.CorpId, EventTime: legacy.payload.TimeStamp });
      out[0].payload.should.not.have.property('UserId');
    });
  });

  describe('paths', function () {
    it('a configured path with percent-escapes answers at the URL it names, as a path in Chinese does', async function () {
      // The request path is decoded before it is looked up, so the configured one must be too.
      const event = (id) => JSON.stringify({ EventType: 'user_add_org', eventId: id });
      await load(standardFlow({ path: '/hooks/a%20b' }), standardCredentials());
      (await push(event('p1'), {}, '/hooks/a%20b')).status.should.equal(200);
      (await push(event('p2'), {}, '/hooks/a%2520b')).status.should.equal(404); // a different URL
      await unload();
      await load(standardFlow({ path: '/钉钉/事件' }), standardCredentials());
      (await push(event('p3'), {}, `/${encodeURIComponent('钉钉')}/${encodeURIComponent('事件')}`)).status.should.equal(200);
    });
  });

  describe('duplicates', function () {
    it('answers success again but emits once, for eventId and for id-less legacy events', async function () {
      await load(standardFlow(), standardCredentials());
      const out = collect();
      const modern = JSON.stringify({ EventType: 'user_add_org', eventId: 'e1', CorpId: APP.corpId, userId: ['u1'] });
      const modernRetry = JSON.stringify({ EventType: 'user_add_org', eventId: 'e1', CorpId: APP.corpId, userId: ['u1'], BizId: 'x' });
      const legacy = JSON.stringify({ EventType: 'user_add_org', TimeStamp: 1717000001456, UserId: ['u1'], CorpId: APP.corpId });
      for (const body of [modern, modernRetry, legacy, legacy]) {
        const res = await push(body); // fresh nonce, timestamp and random prefix each time
        res.status.should.equal(200);
        openReply(res.json).should.equal('success');
      }
      await waitFor(() => out.length >= 2, { what: 'the two distinct events emitted' });
      await settle(100); // bounded: the retries must not follow
      out.length.should.equal(2);
      out[0].dingtalk.eventId.should.equal('e1');
      out[1].dingtalk.eventId.should.startWith('sha256:');
      // the status is rate-limited: wait for the one that counts it
      const status = await waitFor(() => { const s = callsOn(helper.getNode('in'), 'status').pop()?.[0]; return String(s?.text).includes('"duplicates":2') && s; }, { what: 'the status counting the duplicates' });
      status.text.should.containEql('"received":2').and.containEql('"duplicates":2').and.containEql('"rejected":0');
    });
  });

  describe('bad input', function () {
    const expectRejected = async (res, status, code) => {
      res.status.should.equal(status, res.text);
      res.headers.get('content-type').should.startWith('application/json');
      res.json.should.have.properties({ error: code });
      res.json.message.should.be.a.String().and.not.be.empty();
      should.not.exist(res.json.encrypt);
    };

    it('rejects each kind of bad request with its status, a JSON body, a log line and a counter; emits nothing', async function () {
      await load(standardFlow(), standardCredentials());
      const out = collect();
      const good = makePush(JSON.stringify({ EventType: 'user_add_org', eventId: 'ok1' }));
      const wrongKey = makePush('{"EventType":"user_add_org","eventId":"k"}', { aesKey: 'Pw4Nm7Qz2Rk9Tx5Lv8Cb3Hs6Jd1Fg0Ya7Ue4Io2WrTM' });
      const wrongId = makePush('{"EventType":"user_add_org","eventId":"r"}', { receiveId: 'dingsomeoneelse' });

      const cases = [
        [await request(`${PATH}?${good.query}`, { method: 'GET' }), 405, 'method-not-allowed'],
        [await request(`${PATH}?${good.query}`, { method: 'PUT', body: good.body }), 405, 'method-not-allowed'],
        [await request(`${PATH}?${good.query}`, { body: '{"encrypt": ' }), 400, 'bad-request'],
        [await request(`${PATH}?${good.query}`, { body: '{"other":"x"}' }), 400, 'bad-request'],
        [await request(`${PATH}?${good.query}`, { body: '[1,2]' }), 400, 'bad-request'],
        [await request(`${PATH}?timestamp=1&nonce=2`, { body: good.body }), 400, 'bad-request'],
        [await request(`${PATH}?${good.query.replace(/msg_signature=[0-9a-f]+/, 'msg_signature=' + '0'.repeat(40))}`, { body: good.body }), 403, 'bad-signature'],
        [await request(`${PATH}?${good.query.replace(/timestamp=\d+/, 'timestamp=1')}`, { body: good.body }), 403, 'bad-signature'],
        [await request(`${PATH}?${wrongKey.query}`, { body: wrongKey.body }), 400, null],
        [await request(`${PATH}?${wrongId.query}`, { body: wrongId.body }), 400, 'receive-id-mismatch'],
        [await request(`${PATH}?${good.query}`, { body: '{"encrypt":""}' }), 400, 'bad-request'],
      ];
      for (const [res, status, code] of cases) {
        if (code) await expectRejected(res, status, code);
        else {
          res.status.should.equal(status);
          ['bad-padding', 'bad-length', 'receive-id-mismatch', 'bad-utf8'].should.containEql(res.json.error);
        }
      }
      // a good push still works after all that
      const ok = await request(`${PATH}?${good.query}`, { body: good.body });
      ok.status.should.equal(200);
      await waitFor(() => out.length >= 1, { what: 'the good push emitted' });
      out.length.should.equal(1);
      const node = helper.getNode('in');
      const warnings = callsOn(node, 'warn').map((a) => String(a[0]));
      warnings.filter((w) => w.startsWith('dingtalk-event-in.errors.rejected')).length.should.equal(10); // 10 loud per minute
      callsOn(node, 'debug').map((a) => String(a[0])).filter((w) => w.startsWith('dingtalk-event-in.errors.rejected')).length.should.equal(1);
      warnings.some((w) => w.includes('"code":"bad-signature"')).should.be.true();
      warnings.some((w) => w.includes('receive-id-hint') && w.includes('dingsomeoneelse')).should.be.true();
      // the status is rate-limited: wait for the one that counts it
      const status = await waitFor(() => { const s = callsOn(node, 'status').pop()?.[0]; return String(s?.text).includes('"rejected":11') && s; }, { what: 'the status counting the rejected pushes' });
      status.text.should.containEql('"rejected":11').and.containEql('"received":1');
    });

    it('enforces the body limit (413) from content-length and from a chunked stream, and keeps serving', async function () {
      helper.settings({ dingtalkEventInMaxBody: 1024 });
      try {
        await load(standardFlow(), standardCredentials());
        const out = collect();
        const big = makePush(JSON.stringify({ EventType: 'x', eventId: 'big', pad: 'p'.repeat(2000) }));
        await expectRejected(await request(`${PATH}?${big.query}`, { body: big.body }), 413, 'too-large');
        // chunked: no content-length, the limit is enforced while reading
        const chunked = await new Promise((resolve, reject) => {
          const req = http.request(`${state.base}${PATH}?${big.query}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
            let text = '';
            res.on('data', (d) => { text += d; });
            res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text) }));
          });
          req.on('error', reject);
          const body = Buffer.from(big.body);
          req.write(body.subarray(0, 600));
          setTimeout(() => { req.write(body.subarray(600)); req.end(); }, 20);
        });
        chunked.status.should.equal(413);
        chunked.json.error.should.equal('too-large');
        const small = makePush(JSON.stringify({ EventType: 'x', eventId: 'small' }));
        (await request(`${PATH}?${small.query}`, { body: small.body })).status.should.equal(200);
        await waitFor(() => out.length >= 1, { what: 'the small push emitted' });
        out.map((m) => m.dingtalk.eventId).should.eql(['small']);
      } finally {
        helper.settings({ dingtalkEventInMaxBody: undefined });
      }
    });

    it('answers 503 when no app is selected, with a red status', async function () {
      await load([
        { id: 'in', type: 'dingtalk-event-in', app: '', url: PATH, wires: [['out']] },
        { id: 'out', type: 'helper' },
      ]);
      const out = collect();
      const node = helper.getNode('in');
      callsOn(node, 'status')[0][0].should.have.properties({ fill: 'red', text: 'dingtalk-event-in.status.no-app' });
      const p = makePush('{"EventType":"check_url"}');
      await expectRejected(await request(`${PATH}?${p.query}`, { body: p.body }), 503, 'not-configured');
      await settle(); // bounded: nothing may be emitted
      out.length.should.equal(0);
      callsOn(node, 'status').pop()[0].should.have.properties({ fill: 'red', text: 'dingtalk-event-in.status.no-app' });
      callsOn(node, 'warn').map((a) => String(a[0])).some((w) => w.includes('dingtalk-event-in.errors.no-app')).should.be.true();
    });

    for (const [what, creds, key] of [
      ['no token', { token: '' }, 'errors.no-token'],
      ['no aesKey', { aesKey: '' }, 'errors.no-aes-key'],
      ['a 42-character aesKey', { aesKey: APP.aesKey.slice(0, 42) }, 'errors.bad-aes-key'],
    ]) {
      it(`answers 503 when the app has ${what}, and says why`, async function () {
        await load(standardFlow(), standardCredentials(creds));
        const node = helper.getNode('in');
        callsOn(node, 'status')[0][0].should.have.properties({ fill: 'red', text: 'dingtalk-event-in.status.app-invalid' });
        callsOn(node, 'warn')[0][0].should.containEql(`dingtalk-app.${key}`);
        const p = makePush('{"EventType":"check_url"}');
        await expectRejected(await request(`${PATH}?${p.query}`, { body: p.body }), 503, 'not-configured');
        await settle(); // bounded: the rejected push must not change the status
        callsOn(node, 'status').pop()[0].should.have.properties({ fill: 'red', text: 'dingtalk-event-in.status.app-invalid' });
      });
    }

    it('answers 503 when the event-subscription app has no appKey (no receive id)', async function () {
      await load(standardFlow({ app: { appKey: '' } }), standardCredentials());
      const p = makePush('{"EventType":"check_url"}');
      await expectRejected(await request(`${PATH}?${p.query}`, { body: p.body }), 503, 'not-configured');
    });

    it('with httpNodeRoot false: warns, shows a red status and serves nothing', async function () {
      helper.settings({ httpNodeRoot: false });
      try {
        await load(standardFlow(), standardCredentials());
        const node = helper.getNode('in');
        callsOn(node, 'status')[0][0].should.have.properties({ fill: 'red', text: 'dingtalk-event-in.status.no-http' });
        callsOn(node, 'warn')[0][0].should.equal('dingtalk-event-in.errors.no-http');
        const p = makePush('{"EventType":"check_url"}');
        (await request(`${PATH}?${p.query}`, { body: p.body })).status.should.equal(404);
      } finally {
        helper.settings({ httpNodeRoot: undefined });
      }
    });

    it('never throws on odd requests: repeated query parameters, an empty body, a bad URL escape', async function () {
      await load(standardFlow(), standardCredentials());
      const p = makePush('{"EventType":"check_url"}');
      (await request(`${PATH}?${p.query}&nonce=again`, { body: p.body })).status.should.equal(400);
      (await request(`${PATH}?${p.query}`, { body: '' })).status.should.equal(400);
      (await request(`${PATH}%E0%A4%A?${p.query}`, { body: p.body })).status.should.equal(404);
      (await request(`${PATH}?${p.query}`, { body: p.body })).status.should.equal(200);
    });
  });

  describe('load', function () {
    it('answers and emits 1,000 concurrent pushes exactly once each', async function () {
      this.timeout(60000);
      await load(standardFlow(), standardCredentials());
      const out = collect();
      const N = 1000;
      const pushes = Array.from({ length: N }, (_, i) =>
        makePush(JSON.stringify({ EventType: 'bpms_instance_change', eventId: `evt-${i}`, title: `审批 ${i}` })));
      const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
      const send = (p) => new Promise((resolve, reject) => {
        const req = http.request(`${state.base}${PATH}?${p.query}`, {
          method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(p.body) },
        }, (res) => {
          let text = '';
          res.on('data', (d) => { text += d; });
          res.on('end', () => resolve({ status: res.statusCode, json: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end(p.body);
      });
      const results = await Promise.all(pushes.map(send));
      agent.destroy();
      results.forEach((r) => { r.status.should.equal(200); openReply(r.json).should.equal('success'); });
      await waitFor(() => out.length >= N, { what: 'every event emitted', timeout: 15000 });
      out.length.should.equal(N);
      new Set(out.map((m) => m.dingtalk.eventId)).size.should.equal(N);
      // and a second wave of the same events is answered but not emitted again
      const again = await Promise.all(pushes.slice(0, 100).map((p) => request(`${PATH}?${p.query}`, { body: p.body })));
      again.forEach((r) => r.status.should.equal(200));
      await settle(100); // bounded: the second wave must not be emitted again
      out.length.should.equal(N);
    });
  });
});
