'use strict';
const should = require('should');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { APP, makePush, openReply } = require('../support/push');
const { eventFixtures } = require('../support/shared');
const {
  helper, load, unload, request, standardFlow, standardCredentials, collect, callsOn, settle, state, freshStore,
} = require('../support/runtime');

const PATH = '/dingtalk/events';
const push = (plaintext, options, path = PATH) => {
  const p = makePush(plaintext, options);
  return request(`${path}?${p.query}`, { body: p.body });
};
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
      await settle(100);
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
      await settle();
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
      await settle();
      out.map((m) => m.topic).should.eql(['suite_ticket']);
    });

    it('legacy register_call_back style checks the corpId', async function () {
      await load(standardFlow({ app: { callbackStyle: 'register-call-back' } }), standardCredentials());
      (await push('{"EventType":"check_url"}', { receiveId: APP.corpId })).status.should.equal(200);
      (await push('{"EventType":"check_url"}', { receiveId: APP.appKey })).status.should.equal(400);
    });
  });

  describe('durable inbox', function () {
    it('remembers events across a restart: a re-push is a duplicate, and unhanded events are emitted again', async function () {
      await load(standardFlow(), standardCredentials());
      let out = collect();
      const event = JSON.stringify({ EventType: 'user_add_org', eventId: 'persisted-1', userId: ['u1'] });
      (await push(event)).status.should.equal(200);
      await settle();
      out.length.should.equal(1);
      should.not.exist(out[0].dingtalk.redelivered);
      await unload(); // the runtime stops; the store file stays
      await load(standardFlow(), standardCredentials(), { keepStore: true });
      out = collect();
      await settle(100);
      // acknowledged but perhaps not yet handed to every dispatch node: emitted again, flagged
      out.length.should.equal(1);
      out[0].dingtalk.should.have.properties({ eventId: 'persisted-1', redelivered: true });
      out[0].payload.userId.should.eql(['u1']);
      const again = await push(event);
      again.status.should.equal(200);
      openReply(again.json).should.equal('success');
      await settle();
      out.length.should.equal(1); // a duplicate, recognised from disk
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
      await settle(); // the counters' status update has run by now; it must not paint over the problem
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
      await settle();
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
      await settle();
      out.map((m) => m.payload.dataList[0].userId).should.eql(['alice', 'bob']);
    });
  });

  describe('store failing while running', function () {
    it('answers 503 and shows "store unavailable" instead of the counters', async function () {
      const { acquireStore } = require('../../core/store/shared-store');
      await load(standardFlow(), standardCredentials());
      const out = collect();
      (await push(JSON.stringify({ EventType: 'user_add_org', eventId: 'before' }))).status.should.equal(200);
      await settle(300); // past the status rate limit
      callsOn(helper.getNode('in'), 'status').pop()[0].should.have.properties({ fill: 'green' });
      // The runtime's own store, closed under the node as a failing disk would leave it: writes fail.
      const lease = acquireStore(helper.settings().dingtalkStorePath);
      try {
        lease.store.close();
        const res = await push(JSON.stringify({ EventType: 'user_add_org', eventId: 'during' }));
        res.status.should.equal(503);
        res.json.error.should.equal('store-unavailable');
        should.not.exist(res.json.encrypt);
        await settle(300);
        callsOn(helper.getNode('in'), 'status').pop()[0].should.have.properties({ fill: 'red', text: 'dingtalk-event-in.status.store-error' });
        out.map((m) => m.dingtalk.eventId).should.eql(['before']);
      } finally {
        lease.release();
      }
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
      for (let i = 0; i < 100 && logged('log', 'restored').length === 0; i += 1) await settle(20);
      logged('warn', 'deleted').length.should.equal(1);
      logged('warn', 'deleted')[0].should.containEql(file); // the test runtime shows the key and its parameters
      logged('log', 'restored').length.should.equal(1);
      const again = await push(event('during'));
      again.status.should.equal(200);
      openReply(again.json).should.equal('success');
      (await push(event('after'))).status.should.equal(200);
      await settle();
      out.map((m) => m.dingtalk.eventId).should.eql(['before', 'during', 'after']);
      await unload();
      fs.existsSync(file).should.be.true();
      await load(standardFlow(), standardCredentials(), { keepStore: true });
      const redelivered = collect();
      (await push(event('before'))).status.should.equal(200); // a duplicate, known from the restored file
      await settle(100);
      redelivered.map((m) => m.dingtalk.eventId).sort().should.eql(['after', 'before', 'during']);
      redelivered.every((m) => m.dingtalk.redelivered === true).should.be.true();
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
      await settle();
      out.length.should.equal(1);
      out[0].payload.should.have.properties({ userId: legacy.payload.UserId, CorpId: legacy.payload.CorpId, EventTime: legacy.payload.TimeStamp });
      out[0].payload.should.not.have.property('UserId');
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
      await settle(300);
      out.length.should.equal(2);
      out[0].dingtalk.eventId.should.equal('e1');
      out[1].dingtalk.eventId.should.startWith('sha256:');
      const status = callsOn(helper.getNode('in'), 'status').pop()[0];
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
      const notJson = makePush('not json at all');

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
        [await request(`${PATH}?${notJson.query}`, { body: notJson.body }), 400, 'bad-payload'],
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
      await settle(300);
      out.length.should.equal(1);
      const node = helper.getNode('in');
      const warnings = callsOn(node, 'warn').map((a) => String(a[0]));
      warnings.filter((w) => w.startsWith('dingtalk-event-in.errors.rejected')).length.should.equal(10); // 10 loud per minute
      callsOn(node, 'debug').map((a) => String(a[0])).filter((w) => w.startsWith('dingtalk-event-in.errors.rejected')).length.should.equal(1);
      warnings.some((w) => w.includes('"code":"bad-signature"')).should.be.true();
      warnings.some((w) => w.includes('receive-id-hint') && w.includes('dingsomeoneelse')).should.be.true();
      const status = callsOn(node, 'status').pop()[0];
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
        await settle();
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
      await settle();
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
        await settle();
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
      for (let i = 0; i < 50 && out.length < N; i++) await settle(50);
      out.length.should.equal(N);
      new Set(out.map((m) => m.dingtalk.eventId)).size.should.equal(N);
      // and a second wave of the same events is answered but not emitted again
      const again = await Promise.all(pushes.slice(0, 100).map((p) => request(`${PATH}?${p.query}`, { body: p.body })));
      again.forEach((r) => r.status.should.equal(200));
      await settle(100);
      out.length.should.equal(N);
    });
  });
});
