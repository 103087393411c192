'use strict';
// The load generator (its own process, pinned away from Node-RED): autocannon against one URL, every
// request a fresh DingTalk push (a unique event, encrypted and signed with the bench's throw-away
// app credentials, with a unique nonce), exactly as DingTalk would send it. Driven by bench/run.js.
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { performance } = require('node:perf_hooks');
const autocannon = require('autocannon');
const { serve } = require('./lib/child');

const FIXTURE = path.resolve(__dirname, '..', '..', 'shared', 'fixtures', 'events', 'bpms_instance_change.json');
let pushes;

/** Signed encrypted pushes of unique events; `cipherModule` is the installed package's core/cipher. */
function pushFactory({ cipherModule, app, runId }) {
  const { DingTalkCipher, randomAlphanumeric } = require(cipherModule);
  const cipher = new DingTalkCipher({ token: app.token, aesKey: app.aesKey, receiveId: app.appKey });
  const template = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
  let seq = 0;
  return () => {
    seq += 1;
    const now = Date.now();
    const event = { ...template, EventTime: now, BizId: String(now), eventId: `${runId}-${seq}`, processInstanceId: `${runId}-proc-${seq}` };
    const encrypt = cipher.encrypt(JSON.stringify(event));
    const timestamp = String(now);
    const nonce = randomAlphanumeric(16);
    const signature = cipher.sign(timestamp, nonce, encrypt);
    return { query: `msg_signature=${signature}&timestamp=${timestamp}&nonce=${nonce}`, body: JSON.stringify({ encrypt }) };
  };
}

/**
 * A source of pushes with the first `count` (at most 100,000) made before the clock starts, so the
 * load generator only sends while it is measured; more are made on demand.
 */
function prepared(count) {
  const ready = Array.from({ length: Math.min(count, 100000) }, () => pushes());
  let i = 0;
  return () => (i < ready.length ? ready[i++] : pushes());
}

/**
 * One autocannon run, as fast as `connections` go: `duration` (s) or `amount` (requests), `ready`
 * pushes made in advance (default: `amount`). Returns answered requests per second and latency.
 */
function load({ url, connections = 50, duration, amount, timeoutS = 10, ready = 0 }) {
  if (!pushes) throw new Error('configure first');
  const next = prepared(ready || amount || 0);
  const target = new URL(url);
  const options = {
    url: target.origin,
    connections,
    timeout: timeoutS,
    requests: [{
      method: 'POST',
      setupRequest: (req) => {
        const push = next();
        return { ...req, path: `${target.pathname}?${push.query}`, headers: { 'content-type': 'application/json' }, body: push.body };
      },
    }],
    ...(amount ? { amount } : { duration }),
  };
  const startedAt = Date.now();
  // autocannon notices the end of an `amount` run on its next one-second tick, so its duration is
  // rounded up to whole seconds: lastAt (the last answer) gives the real span
  let lastAt = startedAt;
  return new Promise((resolve, reject) => {
    const instance = autocannon(options, (err, r) => {
      if (err) return reject(err);
      resolve({
        startedAt,
        lastAt,
        seconds: r.duration,
        ok: r['2xx'],
        rps: r['2xx'] / r.duration,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
      });
    });
    instance.on('response', () => { lastAt = Date.now(); });
  });
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : NaN);
const ms = (x) => Math.round(x * 10) / 10;

/**
 * Latency at a fixed load: `rate` pushes per second for `seconds`, open loop (each request leaves at
 * its scheduled time whether or not earlier ones have been answered), over up to `sockets` keep-alive
 * connections. autocannon's overallRate sends per-second bursts, which measures the burst, not the rate.
 */
function paced({ url, rate = 1000, seconds = 8, sockets = 64 }) {
  if (!pushes) throw new Error('configure first');
  const target = new URL(url);
  const next = prepared(Math.round(rate * seconds));
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  const total = Math.round(rate * seconds);
  const latencies = [];
  const counts = { ok: 0, non2xx: 0, errors: 0 };
  let sent = 0;
  let settled = 0;
  return new Promise((resolve) => {
    const start = performance.now();
    const finish = () => {
      clearTimeout(limit);
      agent.destroy();
      const seconds = (performance.now() - start) / 1000;
      latencies.sort((a, b) => a - b);
      resolve({ ...counts, sent, seconds, rps: counts.ok / seconds, p50Ms: ms(percentile(latencies, 50)), p99Ms: ms(percentile(latencies, 99)),
        maxMs: ms(latencies[latencies.length - 1] ?? NaN) });
    };
    const limit = setTimeout(finish, (seconds + 20) * 1000); // never wait for ever
    const settle = () => {
      settled += 1;
      if (settled === total) finish();
    };
    const one = () => {
      const push = next();
      const sentAt = performance.now();
      const req = http.request({ host: target.hostname, port: target.port, path: `${target.pathname}?${push.query}`, method: 'POST', agent, timeout: 10000,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(push.body) } }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - sentAt);
          if (res.statusCode >= 200 && res.statusCode < 300) counts.ok += 1;
          else counts.non2xx += 1;
          settle();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        counts.errors += 1;
        settle();
      });
      req.end(push.body);
    };
    const tick = () => {
      const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
      while (sent < due) {
        sent += 1;
        one();
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}

serve({
  paced,
  configure: (args) => {
    pushes = pushFactory(args);
    return true;
  },
  load,
});
