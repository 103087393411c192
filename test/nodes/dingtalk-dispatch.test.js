'use strict';
// dingtalk-dispatch inside node-red-node-test-helper, fed by a real dingtalk-event-in over HTTP and
// delivering to real local HTTP receivers. The schedule itself is tested with a fake clock in
// test/core/delivery.test.js; here the schedules are short so the node-level paths run for real.
const should = require('should');
const http = require('node:http');
const crypto = require('node:crypto');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const eventInModule = require('../../nodes/dingtalk-event-in.js').default;
const dispatchModule = require('../../nodes/dingtalk-dispatch.js').default;
const switchModule = require('../../nodes/dingtalk-event-switch.js').default;
const { DingTalkCipher, generateAesKey } = require('../../core/cipher');
const { generateSecret, webhookId } = require('../../core/delivery/signing');
const { APP, makePush } = require('../support/push');
const { freshStore, callsOn, settle } = require('../support/runtime');

helper.init(require.resolve('node-red'));
const { withHooks } = require('../support/hooks');
const { withCatalogue } = require('../support/i18n');

async function startReceiver(reply) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      requests.push({ url: req.url, headers: req.headers, body });
      const r = reply(requests.length, { url: req.url, headers: req.headers, body });
      res.writeHead(r.status, r.headers || {});
      res.end(r.body || '');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { requests, url: `http://127.0.0.1:${server.address().port}/hook`, close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); } };
}

const until = async (what, fn, ms = 8000) => {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

let httpNode;
let server;
let base;
// catalogue: render status and log texts from the en-US catalogue (test/support/i18n) instead of the bare keys.
async function loadHub(dispatches, { extra = [], credentials = {}, catalogue = false } = {}) {
  freshStore();
  const flow = [
    { id: 'tab', type: 'tab' },
    { id: 'app', type: 'dingtalk-app', appKey: APP.appKey, callbackStyle: 'event-subscription' },
    { id: 'in', z: 'tab', type: 'dingtalk-event-in', app: 'app', url: '/dt', wires: [dispatches.map((d) => d.id)] },
    ...dispatches.map((d) => ({ z: 'tab', type: 'dingtalk-dispatch', wires: [[`${d.id}-ok`], [`${d.id}-dead`]], ...d })),
    ...dispatches.flatMap((d) => [{ id: `${d.id}-ok`, z: 'tab', type: 'helper' }, { id: `${d.id}-dead`, z: 'tab', type: 'helper' }]),
    ...extra,
  ];
  const app = catalogue ? withCatalogue(withHooks(appModule)) : withHooks(appModule);
  await helper.load([app, (RED) => { httpNode = RED.httpNode; return eventInModule(RED); }, dispatchModule, switchModule], flow,
    { app: { token: APP.token, aesKey: APP.aesKey }, ...credentials });
  server = http.createServer(httpNode);
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${server.address().port}`;
}
const outputs = (id) => {
  const ok = [];
  const dead = [];
  helper.getNode(`${id}-ok`).on('input', (m) => ok.push(m));
  helper.getNode(`${id}-dead`).on('input', (m) => dead.push(m));
  return { ok, dead };
};
const push = async (event) => {
  const p = makePush(JSON.stringify(event));
  const res = await fetch(`${base}/dt?${p.query}`, { method: 'POST', body: p.body, headers: { 'content-type': 'application/json' } });
  return res.status;
};
const event = (i, type = 'bpms_instance_change') => ({ EventType: type, eventId: `e-${i}`, CorpId: 'ding1', title: `审批 ${i}` });

describe('dingtalk-dispatch', function () {
  let receiver;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(async () => {
    if (server) { server.closeAllConnections(); await new Promise((r) => server.close(r)); server = undefined; }
    await helper.unload();
    if (receiver) await receiver.close();
    receiver = undefined;
  });

  it('delivers pushed events, signed, once each, and reports each on output 1', async function () {
    receiver = await startReceiver(() => ({ status: 200 }));
    const secret = generateSecret();
    await loadHub([{ id: 'oa', url: receiver.url, headers: [{ k: 'X-System', v: 'oa' }] }], { credentials: { oa: { secret } }, catalogue: true });
    const out = outputs('oa');
    for (const i of [1, 2, 3, 2]) (await push(event(i))).should.equal(200);
    await until('three deliveries', () => out.ok.length === 3);
    await settle(100); // bounded: the repeated push must not be delivered again
    receiver.requests.length.should.equal(3);
    for (const req of receiver.requests) {
      req.headers['x-system'].should.equal('oa');
      const key = Buffer.from(secret.slice(6), 'base64');
      const mac = crypto.createHmac('sha256', key).update(`${req.headers['webhook-id']}.${req.headers['webhook-timestamp']}.${req.body}`).digest('base64');
      req.headers['webhook-signature'].should.equal(`v1,${mac}`);
    }
    const m = out.ok.find((x) => x.payload.eventId === 'e-2');
    m.topic.should.equal('bpms_instance_change');
    m.payload.title.should.equal('审批 2');
    m.delivery.should.have.properties({ attempts: 1, status: 200, webhookId: webhookId('e-2', 'oa'), url: receiver.url });
    m.delivery.durationMs.should.be.a.Number();
    // the counts themselves, once the rate-limited status has caught up with the third delivery
    const lastStatus = () => callsOn(helper.getNode('oa'), 'status').pop()?.[0].text;
    await until('the status to count three deliveries', () => lastStatus() === 'queued 0 · delivered 3 · dead 0')
      .catch((e) => { throw new Error(`${e.message}; last status: ${lastStatus()}`); });
  });

  it('filters by event type with prefix wildcards', async function () {
    receiver = await startReceiver(() => ({ status: 200 }));
    await loadHub([{ id: 'hr', url: receiver.url, eventTypes: 'user_*, org_dept_create' }]);
    const out = outputs('hr');
    await push(event(1, 'user_add_org'));
    await push(event(2, 'bpms_task_change'));
    await push(event(3, 'org_dept_create'));
    await push(event(4, 'org_dept_remove'));
    await until('two deliveries', () => out.ok.length === 2);
    await settle(100); // bounded: the filtered-out types must not be delivered
    out.ok.map((m) => m.payload.eventId).sort().should.eql(['e-1', 'e-3']);
  });

  it('retries a failure, dead-letters after the schedule, and replays through the admin API', async function () {
    let up = false;
    receiver = await startReceiver(() => (up ? { status: 200 } : { status: 500 }));
    await loadHub([{ id: 'erp', url: receiver.url, retrySchedule: '0, 20ms, 20ms' }]);
    const out = outputs('erp');
    await push(event(1));
    await until('dead letter', () => out.dead.length === 1);
    receiver.requests.length.should.equal(3);
    out.dead[0].delivery.should.have.properties({ attempts: 3, status: 500 });
    out.dead[0].delivery.error.should.match(/500/);
    callsOn(helper.getNode('erp'), 'warn').map((a) => a[0]).should.containEql('dingtalk-dispatch.errors.dead');

    const list = await helper.request().get('/dingtalk-dispatch/erp/deliveries?state=dead').expect(200);
    list.body.length.should.equal(1);
    list.body[0].should.have.properties({ eventId: 'e-1', attempts: 3, lastStatus: 500, state: 'dead' });
    should.not.exist(list.body[0].body);
    await helper.request().get('/dingtalk-dispatch/nope/deliveries').expect(404);
    await helper.request().get('/dingtalk-dispatch/erp/deliveries?state=odd').expect(400);

    up = true;
    const replay = await helper.request().post('/dingtalk-dispatch/erp/replay').send({ id: list.body[0].id }).expect(200);
    replay.body.replayed.should.equal(1);
    await until('delivered after replay', () => out.ok.length === 1);
    out.ok[0].delivery.attempts.should.equal(1);
  });

  it('DingTalk-compatible format: the business system opens the push and answers an encrypted success', async function () {
    const sub = { token: 'oaCallbackToken', aesKey: generateAesKey(), receiveId: 'dingOAappkey' };
    const cipher = new DingTalkCipher(sub);
    const seen = [];
    receiver = await startReceiver((n, req) => {
      const q = new URL(req.url, 'http://x').searchParams;
      seen.push(JSON.parse(cipher.open({ signature: q.get('msg_signature'), timestamp: q.get('timestamp'), nonce: q.get('nonce'), encrypt: JSON.parse(req.body).encrypt }).plaintext));
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(cipher.seal('success')) };
    });
    await loadHub([{ id: 'oa', url: receiver.url, format: 'dingtalk', receiveId: sub.receiveId }], { credentials: { oa: { token: sub.token, aesKey: sub.aesKey } } });
    const out = outputs('oa');
    await push(event(7));
    await until('delivered', () => out.ok.length === 1);
    seen.should.eql([event(7)]);
  });

  it('sends the Authorization credential with every delivery, over a plain header of that name, and never logs it', async function () {
    receiver = await startReceiver(() => ({ status: 200 }));
    const authorization = 'Bearer hub-to-oa-token-5f2c';
    await loadHub([{ id: 'oa', url: receiver.url, headers: [{ k: 'Authorization', v: 'from the flow file' }, { k: 'X-System', v: 'oa' }] }],
      { credentials: { oa: { authorization } } });
    const out = outputs('oa');
    for (const i of [1, 2]) (await push(event(i))).should.equal(200);
    await until('two deliveries', () => out.ok.length === 2);
    receiver.requests.map((r) => [r.headers.authorization, r.headers['x-system']]).should.eql([[authorization, 'oa'], [authorization, 'oa']]);
    const node = helper.getNode('oa');
    const said = ['log', 'warn', 'error', 'debug', 'trace'].flatMap((m) => callsOn(node, m)).map((a) => JSON.stringify(a));
    said.some((line) => line.includes('hub-to-oa-token')).should.be.false();
    JSON.stringify(out.ok).includes('hub-to-oa-token').should.be.false(); // not on the delivered messages either
  });

  it('a deploy while a delivery is in flight: closes cleanly, nothing touches the closed store afterwards', async function () {
    // The endpoint answers 150 ms after the deploy began: while the node is closing (it waits for
    // attempts in flight), and again with the store already closed when the answer comes late.
    const uncaught = [];
    const onUncaught = (err) => uncaught.push(err.message);
    process.on('uncaughtException', onUncaught);
    try {
      for (const delayMs of [150, 3500]) {
        let got = 0;
        let answered = false;
        const slow = http.createServer((req, res) => { got += 1; req.resume(); setTimeout(() => { answered = true; res.end('ok'); }, delayMs); });
        await new Promise((r) => slow.listen(0, '127.0.0.1', r));
        await loadHub([{ id: 'oa', url: `http://127.0.0.1:${slow.address().port}/hook` }]);
        (await push(event(1))).should.equal(200);
        await until('the attempt in flight', () => got === 1);
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
        server = undefined;
        await helper.unload(); // the node closes (removed) and the runtime's store with it
        await until('the late answer', () => answered, delayMs + 5000);
        await settle(700); // bounded: the rate-limited status would run within this, on a closed store
        slow.closeAllConnections();
        await new Promise((r) => slow.close(r));
      }
    } finally {
      process.removeListener('uncaughtException', onUncaught);
    }
    uncaught.should.eql([]);
  });

  it('the store locked by another process while a delivery is in flight: one warning, a yellow ring, retried, "available again"', async function () {
    const Database = require('better-sqlite3');
    const { STORE_PAUSE_MS } = require('../../core/delivery/worker');
    let received = 0;
    let answered = 0;
    const slow = http.createServer((req, res) => { received += 1; req.resume(); setTimeout(() => { answered += 1; res.end('ok'); }, 300); });
    await new Promise((r) => slow.listen(0, '127.0.0.1', r));
    let locker;
    try {
      await loadHub([{ id: 'oa', url: `http://127.0.0.1:${slow.address().port}/hook` }]);
      const out = outputs('oa');
      (await push(event(1))).should.equal(200);
      (await push(event(2))).should.equal(200);
      await until('both attempts in flight', () => received === 2, 2000);
      answered.should.equal(0);
      locker = new Database(helper.settings().dingtalkStorePath);
      locker.exec('BEGIN EXCLUSIVE'); // the answers come while the lock is held: their marks cannot be written
      const node = helper.getNode('oa');
      await until('the store failure shown', () => callsOn(node, 'status').some((a) => a[0].text === 'dingtalk-dispatch.status.store-failing'), 3000);
      callsOn(node, 'status').pop()[0].should.have.properties({ fill: 'yellow', shape: 'ring' });
      await settle(1500); // the worker retries meanwhile (the marks): still one warning
      const warnings = () => callsOn(node, 'warn').map((a) => String(a[0])).filter((w) => w.startsWith('dingtalk-dispatch.errors.store-failing'));
      warnings().length.should.equal(1);
      out.ok.length.should.equal(0);
      locker.exec('COMMIT');
      locker.close();
      await until('both deliveries recorded', () => out.ok.length === 2, STORE_PAUSE_MS + 3000);
      answered.should.equal(2); // not sent again: the endpoint had them
      await until('the recovery logged', () => callsOn(node, 'log').some((a) => String(a[0]).startsWith('dingtalk-dispatch.log.store-recovered')), 2000);
      warnings().length.should.equal(1);
      await until('the counts shown again', () => /^dingtalk-dispatch\.status\.counts/.test(callsOn(node, 'status').pop()[0].text), 2000);
    } finally {
      if (locker?.open) locker.close();
      slow.closeAllConnections();
      await new Promise((r) => slow.close(r));
    }
  });

  it('an Authorization value HTTP cannot carry: not configured, events queued', async function () {
    await loadHub([{ id: 'oa', url: 'http://127.0.0.1:9/hook' }], { credentials: { oa: { authorization: 'Bearer a\r\nX-Injected: 1' } } });
    const node = helper.getNode('oa');
    callsOn(node, 'status').pop()[0].should.have.properties({ fill: 'red', text: 'dingtalk-dispatch.status.not-configured' });
    callsOn(node, 'error').map((a) => a[0]).should.containEql('dingtalk-dispatch.errors.authorization');
    await push(event(1));
    await until('queued', async () => (await helper.request().get('/dingtalk-dispatch/oa/deliveries?state=queued')).body.length === 1);
  });

  it('queues events even while misconfigured, and says what is wrong', async function () {
    await loadHub([{ id: 'bad', url: 'ftp://example.invalid/x' }]);
    const node = helper.getNode('bad');
    callsOn(node, 'status').pop()[0].should.have.properties({ fill: 'red', text: 'dingtalk-dispatch.status.not-configured' });
    callsOn(node, 'error').map((a) => a[0]).should.containEql('dingtalk-dispatch.errors.url');
    await push(event(1));
    await until('queued', async () => (await helper.request().get('/dingtalk-dispatch/bad/deliveries?state=queued')).body.length === 1);
  });

  it('redelivered events are not queued twice', async function () {
    receiver = await startReceiver(() => ({ status: 200 }));
    await loadHub([{ id: 'oa', url: receiver.url }]);
    const out = outputs('oa');
    const node = helper.getNode('oa');
    const msg = { topic: 'user_add_org', payload: event(1, 'user_add_org'), dingtalk: { eventId: 'e-1', eventType: 'user_add_org' } };
    node.receive(msg);
    node.receive({ ...msg, dingtalk: { ...msg.dingtalk, redelivered: true } });
    await until('delivered', () => out.ok.length === 1);
    await settle(150); // bounded: the redelivered copy must not be delivered
    receiver.requests.length.should.equal(1);
  });
});
