'use strict';
// The delivery engine against real local HTTP receivers, a real SQLite store and a fake clock: the
// retry schedule is exercised by moving the clock, not by waiting.
const should = require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const crypto = require('node:crypto');
const { EventStore } = require('../../core/store/event-store');
const { SqliteHubStore } = require('../../core/store/sqlite-hub-store');
const { DeliveryWorker } = require('../../core/delivery/worker');
const { buildAttempt, storedEvent } = require('../../core/delivery/formats');
const { createAgents, destroyAgents, httpSend } = require('../../core/delivery/http-send');
const { parseSchedule, STANDARD_WEBHOOKS_SCHEDULE, parseRetryAfter, retryDelay } = require('../../core/delivery/schedule');
const { generateSecret, webhookId, secretProblem } = require('../../core/delivery/signing');
const { DingTalkCipher, generateAesKey } = require('../../core/cipher');

class FakeClock {
  constructor(t = 1_700_000_000_000) { this.t = t; this.timers = []; }
  now() { return this.t; }
  setTimer(fn, ms) { const timer = { at: this.t + ms, fn }; this.timers.push(timer); return timer; }
  clearTimer(timer) { this.timers = this.timers.filter((x) => x !== timer); }
  advance(ms) {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t);
    this.timers = this.timers.filter((x) => x.at > this.t);
    due.forEach((x) => x.fn());
  }
}

/** A business system: answers each request with the next scripted reply; records what it got. */
async function startReceiver(script) {
  const requests = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      const entry = { method: req.method, url: req.url, headers: req.headers, body };
      requests.push(entry);
      const reply = typeof script === 'function' ? script(entry, requests.length) : script[Math.min(requests.length, script.length) - 1];
      if (reply === 'hang') return; // never answers: the attempt times out
      res.writeHead(reply.status, reply.headers || {});
      res.end(reply.body || '');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    requests,
    url: `http://127.0.0.1:${server.address().port}/hook`,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}

const until = async (what, fn, ms = 5000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

const MESSAGE = (i = 1) => ({
  topic: 'bpms_instance_change',
  payload: { EventType: 'bpms_instance_change', eventId: `evt-${i}`, title: '王芳提交的报销申请', result: 'agree' },
  dingtalk: { eventId: `evt-${i}`, eventType: 'bpms_instance_change', eventTime: 1717000000000 + i, receivedAt: 1717000000500, source: 'http' },
});

describe('core/delivery', function () {
  let dir;
  let store;
  let clock;
  let agents;
  let worker;
  let receiver;
  const delivered = [];
  const dead = [];

  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-delivery-'));
    clock = new FakeClock();
    store = new EventStore(path.join(dir, 'store.sqlite'), { now: () => clock.now() });
    agents = createAgents(8);
    delivered.length = 0;
    dead.length = 0;
  });

  afterEach(async function () {
    if (worker) await worker.stop();
    worker = undefined;
    if (receiver) await receiver.close();
    receiver = undefined;
    destroyAgents(agents);
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function makeWorker(options = {}) {
    const format = options.format || 'json';
    const fmt = { format, url: receiver.url, headers: options.headers || {}, subscriber: 'sub-1', secret: options.secret, cipher: options.cipher };
    worker = new DeliveryWorker({
      subscriber: 'sub-1',
      store: new SqliteHubStore(store),
      clock,
      schedule: parseSchedule(options.schedule || STANDARD_WEBHOOKS_SCHEDULE),
      concurrency: options.concurrency || 4,
      ordered: options.ordered || false,
      breakerThreshold: options.breakerThreshold,
      attempt: async (d) => {
        const attempt = buildAttempt(fmt, d.eventId, d.body, clock.now());
        const result = await httpSend(attempt.url, { method: 'POST', headers: attempt.headers, body: attempt.body, timeoutMs: options.timeoutMs || 2000, agents });
        const verdict = attempt.accept(result);
        return { result, ok: verdict.ok, reason: verdict.reason };
      },
      onDelivered: (o) => delivered.push(o),
      onDead: (o) => dead.push(o),
    });
    worker.start();
    return worker;
  }

  const enqueue = async (i) => {
    const msg = MESSAGE(i);
    const r = await store.enqueue('sub-1', msg.dingtalk.eventId, msg.dingtalk.eventType, storedEvent(msg));
    worker && worker.wake();
    return r;
  };

  it('parses schedules and Retry-After', function () {
    parseSchedule(STANDARD_WEBHOOKS_SCHEDULE).should.eql([0, 5000, 300000, 1800000, 7200000, 18000000, 36000000, 50400000, 72000000, 86400000]);
    parseSchedule('0 250ms 1.5s 2min 1d').should.eql([0, 250, 1500, 120000, 86400000]);
    (() => parseSchedule('soon')).should.throw(/soon/);
    (() => parseSchedule(' ')).should.throw(/empty/);
    parseRetryAfter('120', 0).should.equal(120000);
    parseRetryAfter(new Date(60000).toUTCString(), 0).should.equal(60000);
    should(parseRetryAfter('later', 0)).be.undefined();
    should(retryDelay([0, 1000], 2)).be.undefined();
    retryDelay([0, 1000], 1, 0.2, () => 1).should.equal(1200);
  });

  it('delivers on 2xx, once, with a stable webhook-id and a signature the receiver verifies with its own HMAC', async function () {
    receiver = await startReceiver([{ status: 204 }]);
    const secret = generateSecret();
    should(secretProblem(secret)).be.undefined();
    makeWorker({ secret, headers: { 'x-system': 'oa' } });
    (await enqueue(1)).should.equal('new');
    (await enqueue(1)).should.equal('duplicate');
    await until('delivery', () => delivered.length === 1);
    receiver.requests.length.should.equal(1);
    const req = receiver.requests[0];
    req.headers['x-system'].should.equal('oa');
    req.headers['webhook-id'].should.equal(webhookId('evt-1', 'sub-1'));
    // the receiver's own verification, written from the Standard Webhooks spec
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = crypto.createHmac('sha256', key).update(`${req.headers['webhook-id']}.${req.headers['webhook-timestamp']}.${req.body}`).digest('base64');
    req.headers['webhook-signature'].should.equal(`v1,${expected}`);
    Number(req.headers['webhook-timestamp']).should.equal(Math.floor(clock.now() / 1000));
    const body = JSON.parse(req.body);
    body.should.have.properties({ type: 'bpms_instance_change', id: 'evt-1' });
    body.data.title.should.equal('王芳提交的报销申请');
    store.counts('sub-1').should.eql({ queued: 0, delivered: 1, dead: 0 });
    delivered[0].should.have.properties({ attempts: 1, status: 204 });
  });

  it('500 then 200: retried after the second step of the schedule, same webhook-id', async function () {
    receiver = await startReceiver([{ status: 500 }, { status: 200 }]);
    makeWorker({ secret: generateSecret() });
    await enqueue(1);
    await until('first attempt', () => receiver.requests.length === 1 && worker.active === 0);
    store.get(1).should.have.properties({ state: 'queued', attempts: 1, lastStatus: 500, nextAt: clock.now() + 5000 });
    clock.advance(4999);
    await new Promise((r) => setTimeout(r, 30)); // bounded: nothing may be sent before it is due
    receiver.requests.length.should.equal(1);
    clock.advance(1);
    await until('delivery', () => delivered.length === 1);
    receiver.requests[1].headers['webhook-id'].should.equal(receiver.requests[0].headers['webhook-id']);
    delivered[0].attempts.should.equal(2);
  });

  it('timeouts and refused connections are retried on the schedule', async function () {
    receiver = await startReceiver(['hang']);
    makeWorker({ timeoutMs: 150 });
    await enqueue(1);
    await until('timeout recorded', () => store.get(1).attempts === 1);
    store.get(1).lastError.should.startWith('timeout');
    await receiver.close();
    clock.advance(5000);
    await until('refused recorded', () => store.get(1).attempts === 2);
    store.get(1).lastError.should.startWith('ECONNREFUSED');
    store.get(1).nextAt.should.equal(clock.now() + 300000);
    receiver = await startReceiver([{ status: 200 }]);
  });

  it('410 Gone dead-letters at once', async function () {
    receiver = await startReceiver([{ status: 410 }]);
    makeWorker();
    await enqueue(1);
    await until('dead letter', () => dead.length === 1);
    store.get(1).should.have.properties({ state: 'dead', attempts: 1, lastStatus: 410 });
  });

  it('429 and 503: Retry-After lengthens the wait, never shortens it (0 or a past date keep the schedule)', async function () {
    const past = new Date(clock.now() - 60000).toUTCString();
    receiver = await startReceiver([
      { status: 429, headers: { 'retry-after': '120' } }, // longer than the schedule's 5 s: honoured
      { status: 503, headers: { 'retry-after': '7' } }, // shorter than the schedule's 5 min: the schedule
      { status: 503, headers: { 'retry-after': '0' } },
      { status: 429, headers: { 'retry-after': past } },
      { status: 200 },
    ]);
    makeWorker({ schedule: '0, 5s, 5m, 30m, 2h, 5h' });
    await enqueue(1);
    for (const [attempt, wait] of [[1, 120000], [2, 300000], [3, 1800000], [4, 7200000]]) {
      await until(`attempt ${attempt}`, () => store.get(1).attempts === attempt && worker.active === 0);
      store.get(1).nextAt.should.equal(clock.now() + wait, `after attempt ${attempt}`);
      clock.advance(wait - 1);
      await new Promise((r) => setTimeout(r, 30)); // bounded: nothing may be sent before it is due
      store.get(1).attempts.should.equal(attempt); // nothing early
      clock.advance(1);
    }
    await until('delivered', () => delivered.length === 1);
    receiver.requests.length.should.equal(5);
  });

  it('runs the whole Standard Webhooks schedule, dead-letters, then a replay delivers', async function () {
    let up = false;
    receiver = await startReceiver(() => (up ? { status: 200 } : { status: 502 }));
    makeWorker();
    await enqueue(1);
    const schedule = parseSchedule(STANDARD_WEBHOOKS_SCHEDULE);
    for (let attempt = 1; attempt <= schedule.length; attempt++) {
      await until(`attempt ${attempt}`, () => store.get(1).attempts === attempt && worker.active === 0);
      if (attempt < schedule.length) clock.advance(schedule[attempt]);
    }
    await until('dead letter', () => dead.length === 1);
    receiver.requests.length.should.equal(10);
    store.counts('sub-1').dead.should.equal(1);
    store.list('sub-1', 'dead').map((d) => d.eventId).should.eql(['evt-1']);
    up = true;
    (await store.replay('sub-1')).should.equal(1);
    worker.wake();
    await until('replayed delivery', () => delivered.length === 1);
    store.counts('sub-1').should.eql({ queued: 0, delivered: 1, dead: 0 });
  });

  it('DingTalk format: re-encrypts for the subscriber and needs an encrypted "success" back', async function () {
    const sub = { token: 'oaToken123', aesKey: generateAesKey(), receiveId: 'dingoacorp' };
    const cipher = new DingTalkCipher(sub);
    let plainReply = true;
    const got = [];
    receiver = await startReceiver((req) => {
      // the business system's own DingTalk callback handler
      const q = new URL(req.url, 'http://x').searchParams;
      const opened = cipher.open({ signature: q.get('msg_signature'), timestamp: q.get('timestamp'), nonce: q.get('nonce'), encrypt: JSON.parse(req.body).encrypt });
      q.get('signature').should.equal(q.get('msg_signature'));
      got.push(JSON.parse(opened.plaintext));
      if (plainReply) { plainReply = false; return { status: 200, body: 'success' }; }
      return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(cipher.seal('success')) };
    });
    makeWorker({ format: 'dingtalk', cipher });
    await enqueue(1);
    await until('first attempt', () => store.get(1).attempts === 1 && worker.active === 0);
    store.get(1).state.should.equal('queued'); // a plain "success" is not DingTalk's reply
    store.get(1).lastError.should.match(/encrypted "success"/);
    clock.advance(5000);
    await until('delivered', () => delivered.length === 1);
    got.length.should.equal(2);
    got[1].should.eql(MESSAGE(1).payload);
  });

  it('stores the event, not a format: both wire formats come from the same stored row', async function () {
    const { wireBody } = require('../../core/delivery/formats');
    const stored = storedEvent(MESSAGE(3));
    JSON.parse(wireBody('json', stored)).should.have.properties({ type: 'bpms_instance_change', id: 'evt-3', data: MESSAGE(3).payload });
    JSON.parse(wireBody('dingtalk', stored)).should.eql(MESSAGE(3).payload);
    // same bytes on every attempt: the body is exactly this, built from the stored row alone (its event
    // time, not the time of the attempt), so no retry can differ from the first try
    const m = MESSAGE(3);
    wireBody('json', stored).should.equal(JSON.stringify({
      type: 'bpms_instance_change', id: 'evt-3', timestamp: '2024-05-29T16:26:40.003Z', data: m.payload, dingtalk: m.dingtalk,
    }));
    new Date(m.dingtalk.eventTime).toISOString().should.equal('2024-05-29T16:26:40.003Z');
  });

  it('honours a first delay in the schedule, and prunes old delivered records', async function () {
    receiver = await startReceiver([{ status: 200 }]);
    makeWorker({ schedule: '10s, 5s' });
    const msg = MESSAGE(1);
    await store.enqueue('sub-1', 'evt-1', 'x', storedEvent(msg), 10000);
    worker.wake();
    await new Promise((r) => setTimeout(r, 50)); // bounded: nothing may be sent during the first delay
    receiver.requests.length.should.equal(0);
    clock.advance(10000);
    await until('delivered', () => delivered.length === 1);
    store.pruneDelivered('sub-1', clock.now() - 1).should.equal(0);
    clock.advance(1000);
    store.pruneDelivered('other', clock.now()).should.equal(0);
    store.pruneDelivered('sub-1', clock.now()).should.equal(1);
    store.counts('sub-1').delivered.should.equal(0);
  });

  it('ordered: one at a time in queue order, the head blocking the rest across retries', async function () {
    const failFirst = new Set(['evt-1']);
    receiver = await startReceiver((req) => {
      const id = JSON.parse(req.body).id;
      if (failFirst.delete(id)) return { status: 500 };
      return { status: 200 };
    });
    makeWorker({ ordered: true, concurrency: 8 });
    for (let i = 1; i <= 5; i++) await enqueue(i);
    await until('first failure', () => store.get(1).attempts === 1 && worker.active === 0);
    await new Promise((r) => setTimeout(r, 50)); // bounded: nothing may overtake the failed head
    receiver.requests.length.should.equal(1); // nothing overtakes the failed head
    clock.advance(5000);
    await until('all delivered', () => delivered.length === 5);
    receiver.requests.map((r) => JSON.parse(r.body).id).should.eql(['evt-1', 'evt-1', 'evt-2', 'evt-3', 'evt-4', 'evt-5']);
  });

  it('an endpoint that is down holds the backlog back, and its recovery wakes everything', async function () {
    let up = false;
    receiver = await startReceiver(() => (up ? { status: 200 } : { status: 503 }));
    makeWorker({ concurrency: 2, breakerThreshold: 3 });
    for (let i = 1; i <= 20; i++) await enqueue(i);
    await until('first wave', () => receiver.requests.length >= 3 && worker.active === 0);
    await new Promise((r) => setTimeout(r, 50)); // bounded: the open breaker lets nothing more through
    const firstWave = receiver.requests.length;
    firstWave.should.be.belowOrEqual(6); // not all 20: the breaker stopped the hammering
    up = true;
    clock.advance(5000);
    await until('drained', () => delivered.length === 20);
    store.counts('sub-1').should.eql({ queued: 0, delivered: 20, dead: 0 });
  });
});
