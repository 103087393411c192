'use strict';
// The editor's test buttons on dingtalk-dispatch ("send test delivery": one signed sample to the real
// subscriber over HTTP, not queued) and dingtalk-stream-in ("send test event": a sample frame through the
// app's Stream intake, stored, de-duplicated and emitted with source "test"). Failures answer a code and
// parameters that the editor renders in its own language.
require('should');
const http = require('node:http');
const crypto = require('node:crypto');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const dispatchModule = require('../../nodes/dingtalk-dispatch.js').default;
const streamModule = require('../../nodes/dingtalk-stream-in.js').default;
const { DingTalkCipher } = require('../../core/cipher');
const { generateSecret } = require('../../core/delivery/signing');
const { sampleStreamFrame } = require('../../core/stream/sample-frame');
const { startFakeGateway } = require('../support/fake-gateway');
const { freshStore } = require('../support/runtime');
const { withHooks } = require('../support/hooks');
const { waitFor, sleep } = require('../support/wait');

helper.init(require.resolve('node-red'));

const post = (path, body = {}) => helper.request().post(path).send(body);

describe('test buttons', function () {
  before(() => helper.startServer());
  after(() => helper.stopServer());

  describe('dingtalk-dispatch "send test delivery"', function () {
    let receiver;
    let requests;
    let answer;
    beforeEach(async () => {
      freshStore();
      requests = [];
      answer = () => ({ status: 204, body: '' });
      receiver = http.createServer((req, res) => {
        let body = '';
        req.on('data', (d) => { body += d; });
        req.on('end', () => {
          requests.push({ url: req.url, headers: req.headers, body });
          const a = answer({ url: req.url, body });
          res.writeHead(a.status);
          res.end(a.body);
        });
      });
      await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
    });
    afterEach(async () => {
      await helper.unload();
      receiver.closeAllConnections();
      await new Promise((r) => receiver.close(r));
    });
    const hook = () => `http://127.0.0.1:${receiver.address().port}/hook`;
    const load = (node, credentials = {}) => helper.load([withHooks(appModule), dispatchModule], [
      { id: 'tab', type: 'tab' },
      { id: 'd1', z: 'tab', type: 'dingtalk-dispatch', url: hook(), wires: [['ok'], ['dead']], ...node },
      { id: 'ok', z: 'tab', type: 'helper' },
      { id: 'dead', z: 'tab', type: 'helper' },
    ], { d1: credentials });

    it('sends one sample signed per Standard Webhooks, reports the answer, and queues nothing', async function () {
      const secret = generateSecret();
      await load({}, { secret });
      const emitted = [];
      helper.getNode('ok').on('input', (m) => emitted.push(m));
      const res = await post('/dingtalk-dispatch/d1/test').expect(200);
      res.body.should.have.properties({ ok: true, eventType: 'bpms_instance_change', status: 204 });
      res.body.ms.should.be.a.Number();
      requests.length.should.equal(1);
      const req = requests[0];
      const mac = crypto.createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
        .update(`${req.headers['webhook-id']}.${req.headers['webhook-timestamp']}.${req.body}`).digest('base64');
      req.headers['webhook-signature'].should.equal(`v1,${mac}`);
      const body = JSON.parse(req.body);
      body.type.should.equal('bpms_instance_change');
      body.dingtalk.source.should.equal('test');
      body.data.processInstanceId.should.be.a.String();
      // not queued, not on the outputs
      for (const state of ['queued', 'delivered', 'dead']) {
        (await helper.request().get(`/dingtalk-dispatch/d1/deliveries?state=${state}`).expect(200)).body.should.eql([]);
      }
      await sleep(100); // bounded: no delivery report may follow
      emitted.length.should.equal(0);
    });

    it('picks a sample the event-type filter lets through; DingTalk format is encrypted for the subscriber', async function () {
      const receiveId = 'dingsubscriber01';
      const token = 'subToken2026';
      const aesKey = 'Sb1AesKeyForTheSubscriberSystem0123456789ab';
      const cipher = new DingTalkCipher({ token, aesKey, receiveId });
      answer = () => {
        const sealed = cipher.encrypt('success');
        const timeStamp = String(Date.now());
        return { status: 200, body: JSON.stringify({ msg_signature: cipher.sign(timeStamp, 'nonce123', sealed), timeStamp, nonce: 'nonce123', encrypt: sealed }) };
      };
      await load({ format: 'dingtalk', receiveId, eventTypes: 'user_*' }, { token, aesKey });
      const res = await post('/dingtalk-dispatch/d1/test').expect(200);
      res.body.eventType.should.startWith('user_');
      const url = new URL(requests[0].url, 'http://x');
      const opened = cipher.open({ signature: url.searchParams.get('msg_signature'), timestamp: url.searchParams.get('timestamp'), nonce: url.searchParams.get('nonce'), encrypt: JSON.parse(requests[0].body).encrypt });
      JSON.parse(opened.plaintext).EventType.should.equal(res.body.eventType);
      // a reply that is not the encrypted success is a failure, with the status as a parameter
      answer = () => ({ status: 200, body: 'ok' });
      (await post('/dingtalk-dispatch/d1/test').expect(502)).body.should.eql({ error: 'reply', params: { status: 200 } });
    });

    it('failures are codes with parameters: a failing subscriber, one that cannot be reached, a node not deployed or not configured', async function () {
      await load();
      answer = () => ({ status: 500, body: 'boom' });
      (await post('/dingtalk-dispatch/d1/test').expect(502)).body.should.eql({ error: 'status', params: { status: 500 } });
      (await post('/dingtalk-dispatch/nope/test').expect(404)).body.should.eql({ error: 'not-deployed' });
      await helper.unload();

      // a port nobody listens on
      const closed = http.createServer();
      await new Promise((r) => closed.listen(0, '127.0.0.1', r));
      const deadUrl = `http://127.0.0.1:${closed.address().port}/hook`;
      await new Promise((r) => closed.close(r));
      await load({ url: deadUrl });
      (await post('/dingtalk-dispatch/d1/test').expect(502)).body.should.eql({ error: 'network', params: { url: deadUrl, code: 'ECONNREFUSED' } });
      await helper.unload();

      await load({ url: 'ftp://example.invalid/' });
      (await post('/dingtalk-dispatch/d1/test').expect(502)).body.should.eql({ error: 'not-configured', params: {} });
    });

    it('the dead-letter routes answer codes too', async function () {
      await load();
      (await helper.request().get('/dingtalk-dispatch/nope/deliveries').expect(404)).body.should.eql({ error: 'not-deployed' });
      (await helper.request().get('/dingtalk-dispatch/d1/deliveries?state=lost').expect(400)).body.should.eql({ error: 'state', params: { state: 'lost' } });
      (await post('/dingtalk-dispatch/d1/replay', { id: 'x' }).expect(400)).body.should.eql({ error: 'id', params: { id: 'x' } });
    });
  });

  describe('dingtalk-stream-in "send test event"', function () {
    const APPS = { dingappone: 'stream-secret-one' };
    let gateway;
    beforeEach(async () => {
      gateway = await startFakeGateway(APPS);
      freshStore();
      helper.settings({ ...helper.settings(), dingtalkAppApiUrl: gateway.url });
    });
    afterEach(async () => { await helper.unload(); await gateway.close(); });
    const load = () => helper.load([withHooks(appModule), streamModule], [
      { id: 'tab', type: 'tab' },
      { id: 'app1', type: 'dingtalk-app', appKey: 'dingappone', corpId: 'dingcorp0001', callbackStyle: 'event-subscription' },
      { id: 's1', z: 'tab', type: 'dingtalk-stream-in', app: 'app1', wires: [['out']] },
      { id: 'out', z: 'tab', type: 'helper' },
      { id: 's2', z: 'tab', type: 'dingtalk-stream-in', wires: [[]] },
    ], { app1: { appSecret: APPS.dingappone } });

    it('goes through the Stream intake: stored, emitted once with source "test", a repeat is a duplicate', async function () {
      await load();
      const out = [];
      helper.getNode('out').on('input', (m) => out.push(m));
      const res = await post('/dingtalk-stream-in/s1/test').expect(200);
      res.body.should.eql({ eventType: 'bpms_instance_change', verdict: 'new' });
      await waitFor(() => out.length === 1, { what: 'the test event emitted' });
      out[0].topic.should.equal('bpms_instance_change');
      out[0].dingtalk.should.have.properties({ source: 'test', eventType: 'bpms_instance_change', corpId: 'dingcorp0001' });
      out[0].payload.processInstanceId.should.be.a.String();

      // the same frame again (as DingTalk redelivers): de-duplicated by the same inbox, not emitted
      const frame = sampleStreamFrame('user_add_org');
      const hub = helper.getNode('app1').streamHub();
      (await hub.test(frame)).should.equal('new');
      (await hub.test(frame)).should.equal('duplicate');
      await waitFor(() => out.length === 2, { what: 'the second sample emitted' });
      await sleep(100); // bounded: the duplicate must not follow
      out.map((m) => m.topic).should.eql(['bpms_instance_change', 'user_add_org']);
    });

    it('answers codes the editor translates: unknown type, no app, not deployed', async function () {
      await load();
      (await post('/dingtalk-stream-in/s1/test', { type: 'check_url' }).expect(400)).body.should.eql({ error: 'unknown-type', params: { type: 'check_url' } });
      (await post('/dingtalk-stream-in/s2/test').expect(409)).body.should.eql({ error: 'no-app' });
      (await post('/dingtalk-stream-in/none/test').expect(404)).body.should.eql({ error: 'not-deployed' });
    });
  });
});
