'use strict';
// What the end-to-end delivery tests share (test/e2e/durability and test/e2e/handoff): a business
// endpoint that counts successful deliveries by webhook-id, a pusher that sends signed DingTalk
// pushes with bounded concurrency and reports which ones DingTalk would count as acknowledged, the
// usual receiver -> dispatch flow, and the check "every acknowledged event delivered, none twice".
require('should');
const http = require('node:http');
const { APP, makePush, openReply } = require('./push');
const { sleep, waitFor } = require('./node-red-process');
const { listen, downUntilOpened } = require('./ports');

const hubFlow = (endpoint, dispatch = {}) => [
  { id: 'tab1', type: 'tab', label: 'hub' },
  { id: 'app1', type: 'dingtalk-app', appKey: APP.appKey, callbackStyle: 'event-subscription',
    credentials: { token: APP.token, aesKey: APP.aesKey } },
  { id: 'in1', z: 'tab1', type: 'dingtalk-event-in', app: 'app1', url: '/dingtalk/events', wires: [['oa1']] },
  { id: 'oa1', z: 'tab1', type: 'dingtalk-dispatch', url: endpoint, wires: [[], []], ...dispatch },
];

/**
 * The business system. Counts a delivery as successful only when its 2xx answer was written to a
 * connection the hub still held. `onRequest` may act on each request as it arrives. `down`: the
 * endpoint holds its port but resets every connection until up() (a business system that is down at
 * first and comes up later on the address the flow names; nobody else can take the port meanwhile).
 *
 * state.successes: webhook-id -> { event (body.id), data (body.data), count, at (time of each success) };
 * state.attempts: every request as { id (webhook-id), start, end, headers } (end undefined while unanswered);
 * state.order: the attempts that succeeded, in the order their answers were written.
 */
async function startEndpoint({ delayMs = 0, onRequest, down = false } = {}) {
  const state = { requests: 0, successes: new Map(), attempts: [], order: [], up: true };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      state.requests += 1;
      // 'drop': the hub is being killed while this request is in flight, so it is never answered
      if (onRequest && onRequest(state.requests) === 'drop') return;
      const id = req.headers['webhook-id'];
      const attempt = { id, start: Date.now(), end: undefined, headers: req.headers };
      state.attempts.push(attempt);
      const answer = () => {
        attempt.end = Date.now();
        if (req.socket.destroyed) return; // the hub died (or gave up) while we worked: it never heard back
        res.on('finish', () => {
          const parsed = JSON.parse(body);
          const entry = state.successes.get(id) || { event: parsed.id, data: parsed.data, count: 0, at: [] };
          entry.count += 1;
          entry.at.push(Date.now());
          state.successes.set(id, entry);
          state.order.push(attempt);
        });
        res.writeHead(200);
        res.end('ok');
      };
      if (delayMs) setTimeout(answer, delayMs);
      else answer();
    });
  });
  const gate = down ? downUntilOpened(server) : { open: () => undefined };
  const port = await listen(server);
  return {
    state,
    port,
    url: `http://127.0.0.1:${port}/oa`,
    /** A `down` endpoint starts answering. */
    up: () => gate.open(),
    /**
     * Webhook-ids of requests in flight at some moment in [from, to] (received by then, not answered
     * before `from`): the deliveries a kill or deploy in that interval may legitimately repeat.
     */
    inFlightBetween: (from, to) => new Set(state.attempts
      .filter((a) => a.start <= to && (a.end === undefined || a.end >= from)).map((a) => a.id)),
    /** The event ids delivered successfully at least once. */
    delivered: () => new Set([...state.successes.values()].map((e) => e.event)),
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  };
}

/**
 * One signed push. `app` overrides the push options of test/support/push.js (token, aesKey,
 * receiveId, style) for another app. Resolves { status, json, text, headers, acknowledged } where acknowledged means
 * what DingTalk counts: HTTP 200 and a reply that decrypts to "success"; a refused or reset
 * connection resolves { status: 0 }.
 */
function pushOnce(base, plaintext, { path = '/dingtalk/events', app = {}, agent } = {}) {
  return new Promise((resolve) => {
    const p = makePush(plaintext, app);
    const req = http.request(`${base}${path}?${p.query}`, {
      method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(p.body) },
    }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let json;
        let acknowledged = false;
        try {
          json = JSON.parse(text);
          acknowledged = res.statusCode === 200 && openReply(json, app) === 'success';
        } catch { /* not an acknowledgement */ }
        resolve({ status: res.statusCode, json, text, acknowledged, headers: res.headers });
      });
      res.on('error', () => resolve({ status: 0, acknowledged: false }));
    });
    req.on('error', () => resolve({ status: 0, acknowledged: false })); // refused or reset: DingTalk would retry it later
    req.end(p.body);
  });
}

/**
 * Sends pushes with bounded concurrency (and at most `ratePerSec` starts per second, when given); starts no
 * more once `stop()` returns true.
 * Resolves { acknowledged: Set of keyOf(event), answers: [{ key, status, error, acknowledged, at, target }] }.
 */
async function pushEvents(base, events, { concurrency = 16, agent, path, app, ratePerSec, keyOf = (e) => e.eventId, onAnswer, stop } = {}) {
  const acknowledged = new Set();
  const answers = [];
  const started = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < events.length && !(stop && stop())) {
      const i = next++;
      if (ratePerSec) {
        const due = started + (i * 1000) / ratePerSec;
        if (due > Date.now()) await sleep(due - Date.now());
      }
      const event = events[i];
      const r = await pushOnce(base, JSON.stringify(event), { path, app, agent });
      // target: the instance that answered, when a test/support/round-robin-proxy.js is in front
      const answer = { key: keyOf(event), status: r.status, error: r.json && r.json.error, acknowledged: r.acknowledged, at: Date.now(),
        target: r.headers && r.headers['x-proxy-target'] };
      answers.push(answer);
      if (r.acknowledged) acknowledged.add(answer.key);
      if (onAnswer) onAnswer(answer);
    }
  }));
  return { acknowledged, answers };
}

/** Sends pushes with bounded concurrency; resolves with the event ids DingTalk would count as acknowledged. */
async function pushAll(base, events, concurrency, agent) {
  return (await pushEvents(base, events, { concurrency, agent })).acknowledged;
}

/** Re-pushes what was not acknowledged, as DingTalk retries it, until every push is acknowledged (or `rounds` runs out). */
async function pushUntilAcknowledged(base, all, acknowledged, options = {}, rounds = 5) {
  for (let round = 0; round < rounds; round += 1) {
    const left = all.filter((e) => !acknowledged.has(e.eventId));
    if (left.length === 0) return;
    const r = await pushEvents(base, left, { concurrency: 8, ...options });
    for (const id of r.acknowledged) acknowledged.add(id);
    if (r.acknowledged.size < left.length) await sleep(1000); // DingTalk waits before retrying too
  }
}

/** Waits until the receiver at `path` is routed (anything but 404). */
const waitForReceiver = (red, path = '/dingtalk/events', what = 'receiver') =>
  waitFor(what, async () => (await fetch(`${red.nodeBase}${path}`, { method: 'POST' })).status !== 404);

/**
 * The common assertion: every acknowledged event is delivered successfully (0 missing), and no
 * webhook-id is delivered successfully twice except those in `overlaps` (deliveries in flight at a
 * disruption: a kill, a deploy, a full disk). Prints the counts so the log shows what happened.
 */
async function assertAllDelivered(label, endpoint, acknowledged, { overlaps = new Set(), timeoutMs = 120000, since } = {}) {
  const missing = () => {
    const delivered = endpoint.delivered();
    return [...acknowledged].filter((id) => !delivered.has(id));
  };
  try {
    await waitFor(`every acknowledged event delivered (${label})`, () => missing().length === 0, timeoutMs);
  } catch { /* reported below with the counts */ }
  await sleep(500); // a last duplicate would show here
  const lost = missing();
  const twice = [...endpoint.state.successes.entries()].filter(([, e]) => e.count > 1);
  const unexplained = twice.filter(([id]) => !overlaps.has(id));
  console.log(`      ${label}: ${acknowledged.size} acknowledged, ${endpoint.state.successes.size} webhook-ids delivered, `
    + `${lost.length} acknowledged never delivered, ${twice.length} delivered more than once (${twice.length - unexplained.length} of them in flight `
    + `at a disruption: ${overlaps.size} such webhook-ids recorded)`);
  if (lost.length > 0) console.log(`      ${label}: first missing: ${lost.slice(0, 5).join(', ')}`);
  // What happened to a repeated webhook-id: each attempt's sender, and times (ms) from `since` (or the first attempt).
  for (const [id] of unexplained.slice(0, 5)) {
    const attempts = endpoint.state.attempts.filter((a) => a.id === id);
    const t0 = since ?? attempts[0].start;
    const succeeded = new Set(endpoint.state.order.filter((a) => a.id === id));
    console.log(`      ${label}: ${id} attempts: ${attempts.map((a) => `[${a.headers['x-hub-instance'] || '-'} ${a.start - t0}..${a.end === undefined ? '-' : a.end - t0}${succeeded.has(a) ? ' ok' : ''}]`).join(' ')}`);
  }
  lost.length.should.equal(0, `${lost.length} of ${acknowledged.size} acknowledged events never reached the subscriber`);
  unexplained.map(([id]) => id).should.eql([], 'webhook-ids delivered successfully twice without being in flight at a disruption');
}

module.exports = { hubFlow, startEndpoint, pushOnce, pushEvents, pushAll, pushUntilAcknowledged, waitForReceiver, assertAllDelivered };
