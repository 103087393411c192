#!/usr/bin/env node
// npm run bench: the hub against what an integrator would wire from Node-RED's own HTTP nodes, side by
// side in one run, every figure a ratio against a baseline measured in the same run (absolute numbers
// drift on shared machines). Node-RED runs in a child process with the packed package installed, the
// load generator (autocannon, bench/load.js) and the business endpoints (bench/sink.js) in others;
// with taskset and 2+ CPUs Node-RED is pinned to CPU 0 and everything else to CPU 1.
//   receive   dingtalk-event-in (durable store) vs core http in -> http response echo
//   dispatch  dingtalk-event-in -> 3 x dingtalk-dispatch vs http in -> 3 chained http request -> http response
//   backlog   peak RSS while 100,000 events queue for a down endpoint and drain, then the same with 1,000,000
//             (the ratio of the two peaks: memory must not grow with the backlog), and the drain rate
//   cipher    bench/cipher.js: full crypto cycle vs a bare AES-256-CBC round trip, one core
//   switch    bench/switch.js: dingtalk-event-switch vs core switch (extra)
//   plainflow bench/plainflow.js: a flow without DingTalk nodes, with the package installed (and with a
//             DingTalk event in flight) vs Node-RED without it
//   redis     bench/redis.js: receive and dispatch with the store on Redis (appendfsync always / everysec)
//             beside SQLite, and one vs two Node-RED instances on one Redis behind a round-robin proxy
// Writes bench/results/latest.json (and latest.md, the table of docs/performance.md; `--report` re-renders them from
// latest.json without measuring). Environment:
//   BENCH_ONLY=receive,dispatch   run some sections, keep the others' last results
//   BENCH_QUICK=1                 shorter rounds and 20,000/200,000-event backlogs (a smoke run)
//   BENCH_BACKLOG_LARGE=200000    the backlog section's second, larger backlog (default 1,000,000)
//   BENCH_PIN=0                   do not pin processes to CPUs
//   BENCH_DISPATCH_CONCURRENCY=8  the dispatch nodes' concurrency (deliveries in flight per endpoint)
//   BENCH_STORE_DIR=/dev/shm      put the store there (default: the user directory) to see what the disk costs
//   BENCH_PROFILE=<dir>           write a CPU profile of each Node-RED process there (node bench/profile.js)
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { installPackedModule, NodeRedProcess, waitFor } = require('../test/support/node-red-process');
const { candidatePort } = require('../test/support/ports');
const { Child, pin } = require('./lib/child');
const { plainflow } = require('./plainflow');
const { redisSection, STORES } = require('./redis');
const { peakRss, cpuMs } = require('./lib/proc');

const QUICK = process.env.BENCH_QUICK === '1';
const ONLY = (process.env.BENCH_ONLY || '').split(',').map((s) => s.trim()).filter(Boolean);
const canPin = (() => {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const PINNED = process.env.BENCH_PIN !== '0' && os.cpus().length >= 2 && canPin;
const RED_CPU = PINNED ? 0 : undefined;
const LOAD_CPU = PINNED ? 1 : undefined;

const CONFIG = {
  receive: { connections: 50, warmupS: 3, roundS: QUICK ? 3 : 6, rounds: QUICK ? 1 : 3, fixedRate: 1000, fixedS: QUICK ? 3 : 8, readyPerSecond: 8000 },
  dispatch: { connections: 20, events: QUICK ? 1500 : 4000, warmupEvents: 500, rounds: QUICK ? 1 : 3, concurrency: Number(process.env.BENCH_DISPATCH_CONCURRENCY || 8) },
  // `events` as the e2e test queues them, then `largeEvents` in a fresh process: the peak must not grow with the backlog.
  backlog: { events: QUICK ? 20000 : 100000, largeEvents: Number(process.env.BENCH_BACKLOG_LARGE) || (QUICK ? 200000 : 1000000), connections: 32 },
  redis: { connections: 50, warmupS: 2, roundS: QUICK ? 3 : 5, rounds: QUICK ? 1 : 3, fixedRate: 1000, fixedS: QUICK ? 3 : 5, readyPerSecond: 8000,
    dispatchConnections: 20, warmupEvents: 200, events: QUICK ? 1000 : 1500, scaleEvents: QUICK ? 1000 : 2000,
    concurrency: Number(process.env.BENCH_DISPATCH_CONCURRENCY || 8), loadCpu: LOAD_CPU },
  plainflow: { messages: QUICK ? 100000 : 1000000, passes: QUICK ? 5 : 20, warmupMessages: QUICK ? 20000 : 100000, chunk: 1000 },
};
const TARGETS = {
  receiveRatio: 1.0,
  receiveP99Ms: 50,
  dispatchRatio: 3,
  dispatchDeliveriesPerSec: 5000,
  backlogPeakRssMb: 300,
  backlogGrowthRatio: 1.1,
  cipherRatioToFloor: 0.5,
  plainflowTimeRatio: 1.05,
};

const RESULTS = path.join(__dirname, 'results');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x, digits = 0) => Number(x.toFixed(digits));
const mb = (bytes) => round(bytes / 1048576);
const log = (...args) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...args);

// --- flows -----------------------------------------------------------------------------------------

function appNode(ctx) {
  return { id: 'app', type: 'dingtalk-app', name: 'bench', appKey: ctx.app.appKey, callbackStyle: 'event-subscription',
    credentials: { token: ctx.app.token, aesKey: ctx.app.aesKey } };
}

function receiveFlow(ctx) {
  return [
    { id: 'tab', type: 'tab', label: 'receive' },
    appNode(ctx),
    { id: 'hub-in', z: 'tab', type: 'dingtalk-event-in', app: 'app', url: '/hub', wires: [[]] },
    { id: 'core-in', z: 'tab', type: 'http in', url: '/core', method: 'post', upload: false, wires: [['core-out']] },
    { id: 'core-out', z: 'tab', type: 'http response', wires: [] },
  ];
}

function dispatchFlow(ctx, endpoints) {
  const dispatch = (id, base) => ({ id, z: 'tab', type: 'dingtalk-dispatch', url: `${base}/hub`, format: 'json',
    concurrency: CONFIG.dispatch.concurrency, credentials: { secret: ctx.webhookSecret }, wires: [[], []] });
  // What an integrator wires from core nodes: each http request (keep-alive on) forwards the event and
  // the endpoint echoes it, so the next one forwards the same body; the response goes after the third.
  const request = (id, base, next) => ({ id, z: 'tab', type: 'http request', method: 'POST', ret: 'txt', paytoqs: 'ignore',
    url: `${base}/echo`, persist: true, tls: '', proxy: '', authType: '', senderr: false, headers: [], wires: [[next]] });
  return [
    { id: 'tab', type: 'tab', label: 'dispatch' },
    appNode(ctx),
    { id: 'hub-in', z: 'tab', type: 'dingtalk-event-in', app: 'app', url: '/hub', wires: [['oa', 'hr', 'erp']] },
    dispatch('oa', endpoints[0]),
    dispatch('hr', endpoints[1]),
    dispatch('erp', endpoints[2]),
    { id: 'core-in', z: 'tab', type: 'http in', url: '/core', method: 'post', upload: false, wires: [['req-oa']] },
    request('req-oa', endpoints[0], 'req-hr'),
    request('req-hr', endpoints[1], 'req-erp'),
    request('req-erp', endpoints[2], 'core-out'),
    { id: 'core-out', z: 'tab', type: 'http response', wires: [] },
  ];
}

function backlogFlow(ctx, url) {
  return [
    { id: 'tab', type: 'tab', label: 'backlog' },
    appNode(ctx),
    { id: 'hub-in', z: 'tab', type: 'dingtalk-event-in', app: 'app', url: '/hub', wires: [['oa']] },
    { id: 'oa', z: 'tab', type: 'dingtalk-dispatch', url, format: 'json', concurrency: CONFIG.dispatch.concurrency,
      retrySchedule: Array(12).fill('1s').join(', ').replace(/^1s/, '0'), credentials: { secret: ctx.webhookSecret }, wires: [[], []] },
  ];
}

/** options.settings: more settings.js entries (e.g. dingtalkStore); options.cpu: where to pin it (default Node-RED's CPU). */
async function startRed(ctx, flow, userDir = ctx.userDir, options = {}) {
  const settings = { logging: { console: { level: 'warn', metrics: false, audit: false } }, ...options.settings };
  if (process.env.BENCH_STORE_DIR) settings.dingtalkStorePath = path.join(fs.mkdtempSync(path.join(process.env.BENCH_STORE_DIR, 'dingtalk-bench-')), 'store.sqlite');
  const red = new NodeRedProcess(userDir, settings);
  const nodeOptions = process.env.NODE_OPTIONS;
  if (process.env.BENCH_PROFILE) process.env.NODE_OPTIONS = `${nodeOptions || ''} --require ${path.join(__dirname, 'lib', 'cpu-profile.js')}`;
  try {
    await red.start();
  } finally {
    if (nodeOptions === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = nodeOptions;
  }
  pin(red.child.pid, 'cpu' in options ? options.cpu : RED_CPU);
  await red.deploy(flow);
  for (const node of flow.filter((n) => n.type === 'dingtalk-event-in' || n.type === 'http in')) {
    await waitFor(`route ${node.url}`, async () => (await fetch(`${red.nodeBase}${node.url}`, { method: 'POST' })).status !== 404);
  }
  return red;
}

// --- sections --------------------------------------------------------------------------------------

async function receive(ctx) {
  const c = CONFIG.receive;
  const red = await startRed(ctx, receiveFlow(ctx));
  const cases = { hub: `${red.nodeBase}/hub`, baseline: `${red.nodeBase}/core` };
  const runs = { hub: [], baseline: [] };
  const problems = [];
  const load = async (name, args, cmd = 'load') => {
    const cpuBefore = cpuMs(red.child.pid);
    const r = await ctx.loader.call(cmd, { url: cases[name], ...args });
    r.cpuMsPerRequest = (cpuMs(red.child.pid) - cpuBefore) / r.ok;
    if (r.non2xx || r.errors || r.timeouts) problems.push(`${name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
    return r;
  };
  try {
    for (const name of Object.keys(cases)) await load(name, { connections: c.connections, duration: c.warmupS });
    for (let r = 0; r < c.rounds; r++) {
      for (const name of Object.keys(cases)) {
        runs[name].push(await load(name, { connections: c.connections, duration: c.roundS, ready: c.readyPerSecond * c.roundS }));
      }
    }
    const fixed = {};
    for (const name of Object.keys(cases)) {
      fixed[name] = await load(name, { rate: c.fixedRate, seconds: c.fixedS }, 'paced');
    }
    const m = (name, key) => median(runs[name].map((x) => x[key]));
    return {
      ratio: round(m('hub', 'rps') / m('baseline', 'rps'), 2),
      rps: round(m('hub', 'rps')),
      baselineRps: round(m('baseline', 'rps')),
      p50Ms: fixed.hub.p50Ms,
      p99Ms: fixed.hub.p99Ms,
      baselineP50Ms: fixed.baseline.p50Ms,
      baselineP99Ms: fixed.baseline.p99Ms,
      latencyAtRps: c.fixedRate,
      achievedRps: round(fixed.hub.rps),
      cpuMsPerRequest: round(m('hub', 'cpuMsPerRequest'), 3),
      baselineCpuMsPerRequest: round(m('baseline', 'cpuMsPerRequest'), 3),
      maxMs: fixed.hub.maxMs,
      baselineMaxMs: fixed.baseline.maxMs,
      saturated: { connections: c.connections, p50Ms: m('hub', 'p50Ms'), p99Ms: m('hub', 'p99Ms'), baselineP50Ms: m('baseline', 'p50Ms'), baselineP99Ms: m('baseline', 'p99Ms') },
      rounds: c.rounds,
      roundSeconds: c.roundS,
      peakRssMb: mb(peakRss(red.child.pid) || 0),
      ...(problems.length ? { problems } : {}),
    };
  } finally {
    await red.stop();
  }
}

async function dispatch(ctx) {
  const c = CONFIG.dispatch;
  const endpoints = [];
  for (const name of ['oa', 'hr', 'erp']) endpoints.push(await ctx.sink.call('listen', { name }));
  const red = await startRed(ctx, dispatchFlow(ctx, endpoints));
  const cases = { hub: `${red.nodeBase}/hub`, baseline: `${red.nodeBase}/core` };
  const runs = { hub: [], baseline: [] };
  const problems = [];
  // `events` pushes as fast as 20 connections go; the clock runs from the first push to the last
  // delivery counted at the endpoints (the hub answers DingTalk before it forwards).
  const once = async (name, events) => {
    await ctx.sink.call('reset');
    const cpuBefore = cpuMs(red.child.pid);
    const l = await ctx.loader.call('load', { url: cases[name], connections: c.connections, amount: events, timeoutS: 30 });
    // autocannon may send one request more than asked: every push answered 2xx must be delivered 3 times
    const expected = 3 * l.ok;
    const s = await ctx.sink.call('waitFor', { total: expected, timeoutMs: 180000 }, 200000);
    if (s.total !== expected || l.ok < events) problems.push(`${name}: ${l.ok}/${events} pushes answered 2xx, ${s.total}/${expected} deliveries`);
    const seconds = (s.lastAt - l.startedAt) / 1000;
    return { deliveriesPerSec: s.total / seconds, eventsPerSec: s.total / 3 / seconds, ingressRps: l.rps, cpuMsPerDelivery: (cpuMs(red.child.pid) - cpuBefore) / s.total };
  };
  try {
    for (const name of Object.keys(cases)) await once(name, c.warmupEvents);
    for (let r = 0; r < c.rounds; r++) for (const name of Object.keys(cases)) runs[name].push(await once(name, c.events));
    const m = (name, key) => median(runs[name].map((x) => x[key]));
    return {
      ratio: round(m('hub', 'deliveriesPerSec') / m('baseline', 'deliveriesPerSec'), 2),
      deliveriesPerSec: round(m('hub', 'deliveriesPerSec')),
      baselineDeliveriesPerSec: round(m('baseline', 'deliveriesPerSec')),
      eventsPerSec: round(m('hub', 'eventsPerSec')),
      baselineEventsPerSec: round(m('baseline', 'eventsPerSec')),
      hubIngressRps: round(m('hub', 'ingressRps')),
      cpuMsPerDelivery: round(m('hub', 'cpuMsPerDelivery'), 3),
      baselineCpuMsPerDelivery: round(m('baseline', 'cpuMsPerDelivery'), 3),
      endpoints: 3,
      eventsPerRound: c.events,
      rounds: c.rounds,
      dispatchConcurrency: c.concurrency,
      peakRssMb: mb(peakRss(red.child.pid) || 0),
      ...(problems.length ? { problems } : {}),
    };
  } finally {
    await red.stop();
    await ctx.sink.call('close');
  }
}

/**
 * Peak RSS while `events` queue for a down endpoint, then the drain: once with the e2e test's backlog and once
 * with ten times it, each in a fresh Node-RED process and store; the ratio of the two peaks shows whether memory
 * grows with the backlog (it must not: the queue lives on disk).
 */
async function backlog(ctx) {
  const c = CONFIG.backlog;
  const small = await backlogRun(ctx, c.events);
  log(`backlog of ${c.events}: ${JSON.stringify(small)}; now ${c.largeEvents}`);
  const large = await backlogRun(ctx, c.largeEvents);
  return {
    ...small,
    large,
    growthRatio: round(large.peakRssMbWithDrain / small.peakRssMbWithDrain, 2),
    ...(small.problems || large.problems ? { problems: [...(small.problems ?? []), ...(large.problems ?? []).map((p) => `large: ${p}`)] } : {}),
  };
}

async function backlogRun(ctx, events) {
  const c = { ...CONFIG.backlog, events };
  // Nothing listens here until the drain starts (connection refused, as a stopped system): the sink
  // process binds it then, so this can only be a port that was free a moment ago; should another process
  // take it meanwhile, the sink's listen fails with EADDRINUSE and the section reports it.
  const port = await candidatePort();
  const red = await startRed(ctx, backlogFlow(ctx, `http://127.0.0.1:${port}/oa`));
  const problems = [];
  try {
    const started = Date.now();
    const scale = Math.max(1, c.events / 100000);
    const l = await ctx.loader.call('load', { url: `${red.nodeBase}/hub`, connections: c.connections, amount: c.events, timeoutS: 30 }, 300000 * scale);
    if (l.ok !== c.events) problems.push(`${l.ok}/${c.events} pushes answered 2xx`);
    await waitFor('every event queued', async () => {
      const r = await fetch(`${red.adminBase}/dingtalk-dispatch/oa/deliveries?state=queued&limit=1&offset=${c.events - 1}`);
      return (await r.json()).length === 1;
    }, 120000 * scale);
    const queuedAfterS = (Date.now() - started) / 1000;
    const queuedPeak = peakRss(red.child.pid) || 0;
    await ctx.sink.call('reset');
    const upAt = Date.now();
    await ctx.sink.call('listen', { name: 'backlog', port });
    const s = await ctx.sink.call('waitFor', { total: c.events, timeoutMs: 360000 * scale }, 380000 * scale);
    if (s.total !== c.events) problems.push(`${s.total}/${c.events} delivered`);
    return {
      events: c.events,
      peakRssMb: mb(queuedPeak),
      drainPerSec: round((s.total - 1) / ((s.lastAt - s.firstAt) / 1000)),
      ingressRps: round(l.rps),
      queuedAfterSeconds: round(queuedAfterS, 1),
      drainSeconds: round((s.lastAt - upAt) / 1000, 1),
      peakRssMbWithDrain: mb(peakRss(red.child.pid) || 0),
      dispatchConcurrency: CONFIG.dispatch.concurrency,
      ...(problems.length ? { problems } : {}),
    };
  } finally {
    await red.stop();
    await ctx.sink.call('close');
  }
}

/** Runs one of the in-process benchmarks (cipher.js, switch.js) in its own process on Node-RED's CPU. */
function script(name, ctx) {
  const args = [path.join(__dirname, name), '--json'];
  const cmd = PINNED ? 'taskset' : process.execPath;
  const out = execFileSync(cmd, PINNED ? ['-c', String(RED_CPU), process.execPath, ...args] : args, {
    encoding: 'utf8', env: { ...process.env, BENCH_PACKAGE_DIR: ctx.packageDir }, stdio: ['ignore', 'pipe', 'inherit'], timeout: 120000,
  });
  return JSON.parse(out.trim().split('\n').pop());
}

const SECTIONS = {
  cipher: (ctx) => script('cipher.js', ctx),
  receive,
  dispatch,
  backlog,
  switch: (ctx) => script('switch.js', ctx),
  plainflow: (ctx) => plainflow(ctx, { config: CONFIG.plainflow, startRed, appNode }),
  redis: (ctx) => redisSection(ctx, { config: CONFIG.redis, startRed, appNode }),
};

// --- report ----------------------------------------------------------------------------------------

function machine() {
  const cpus = os.cpus();
  const model = (cpus[0] && cpus[0].model.replace(/\s+/g, ' ').trim()) || 'unknown CPU';
  return `${cpus.length} × ${model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.version}, `
    + `Node-RED ${require('node-red/package.json').version}; ${PINNED ? 'Node-RED pinned to CPU 0, load generator and endpoints on CPU 1' : 'processes not pinned'}`;
}

function targets(r) {
  const t = {};
  const check = (key, value, goal, ok) => { if (value !== undefined) t[key] = { value, goal, met: ok }; };
  if (r.receive) {
    check('receiveRatio', r.receive.ratio, `>= ${TARGETS.receiveRatio}`, r.receive.ratio >= TARGETS.receiveRatio);
    check('receiveP99Ms', r.receive.p99Ms, `<= ${TARGETS.receiveP99Ms} at ${r.receive.latencyAtRps} req/s`, r.receive.p99Ms <= TARGETS.receiveP99Ms);
  }
  if (r.dispatch) {
    check('dispatchRatio', r.dispatch.ratio, `>= ${TARGETS.dispatchRatio}`, r.dispatch.ratio >= TARGETS.dispatchRatio);
    check('dispatchDeliveriesPerSec', r.dispatch.deliveriesPerSec, `>= ${TARGETS.dispatchDeliveriesPerSec}`, r.dispatch.deliveriesPerSec >= TARGETS.dispatchDeliveriesPerSec);
  }
  if (r.backlog) {
    check('backlogPeakRssMb', r.backlog.peakRssMbWithDrain, `<= ${TARGETS.backlogPeakRssMb}`, r.backlog.peakRssMbWithDrain <= TARGETS.backlogPeakRssMb);
    if (r.backlog.large) {
      check('backlogGrowthRatio', r.backlog.growthRatio, `<= ${TARGETS.backlogGrowthRatio} (peak with ${r.backlog.large.events} queued against ${r.backlog.events})`,
        r.backlog.growthRatio <= TARGETS.backlogGrowthRatio);
    }
  }
  if (r.cipher) check('cipherRatioToFloor', r.cipher.ratioToFloor, `>= ${TARGETS.cipherRatioToFloor}`, r.cipher.ratioToFloor >= TARGETS.cipherRatioToFloor);
  if (r.plainflow) {
    const goal = `<= ${TARGETS.plainflowTimeRatio} (time against Node-RED without the package)`;
    check('plainflowInstalledRatio', r.plainflow.installedRatio, goal, r.plainflow.installedRatio <= TARGETS.plainflowTimeRatio);
    check('plainflowInFlightRatio', r.plainflow.inFlightRatio, goal, r.plainflow.inFlightRatio <= TARGETS.plainflowTimeRatio);
  }
  return t;
}

/** Rows of [benchmark, hub, baseline, ratio, target]; also the table of docs/performance.md. */
function rows(r) {
  const n = (x) => (x === undefined ? '–' : Math.round(x).toLocaleString('en-US'));
  const met = (key) => (r.targets[key] ? (r.targets[key].met ? 'met' : 'missed') : '');
  const out = [];
  if (r.receive) {
    const x = r.receive;
    out.push([`receive: pushes/s, ${x.saturated.connections} connections`, `${n(x.rps)}`, `${n(x.baselineRps)}`, x.ratio.toFixed(2), `≥ 1.0: ${met('receiveRatio')}`]);
    out.push([`receive: p50 / p99 at ${n(x.latencyAtRps)} req/s`, `${x.p50Ms} / ${x.p99Ms} ms`, `${x.baselineP50Ms} / ${x.baselineP99Ms} ms`, '', `p99 ≤ 50 ms: ${met('receiveP99Ms')}`]);
    out.push([`receive: p50 / p99 at saturation`, `${x.saturated.p50Ms} / ${x.saturated.p99Ms} ms`, `${x.saturated.baselineP50Ms} / ${x.saturated.baselineP99Ms} ms`, '', '']);
    out.push(['receive: Node-RED CPU per push', `${x.cpuMsPerRequest} ms`, `${x.baselineCpuMsPerRequest} ms`, (x.baselineCpuMsPerRequest / x.cpuMsPerRequest).toFixed(2), '']);
  }
  if (r.dispatch) {
    const x = r.dispatch;
    out.push(['dispatch: deliveries/s to 3 endpoints', n(x.deliveriesPerSec), n(x.baselineDeliveriesPerSec), x.ratio.toFixed(2),
      `≥ 3: ${met('dispatchRatio')}; ≥ 5,000/s: ${met('dispatchDeliveriesPerSec')}`]);
    out.push(['dispatch: Node-RED CPU per delivery', `${x.cpuMsPerDelivery} ms`, `${x.baselineCpuMsPerDelivery} ms`, (x.baselineCpuMsPerDelivery / x.cpuMsPerDelivery).toFixed(2), '']);
  }
  if (r.backlog) {
    const x = r.backlog;
    out.push([`backlog: peak RSS, ${n(x.events)} queued and drained`, `${x.peakRssMbWithDrain} MB`, '', '', `≤ 300 MB: ${met('backlogPeakRssMb')}`]);
    if (x.large) {
      out.push([`backlog: peak RSS, ${n(x.large.events)} vs ${n(x.events)} queued and drained`, `${x.large.peakRssMbWithDrain} MB`, `${x.peakRssMbWithDrain} MB`,
        x.growthRatio.toFixed(2), `≤ ${TARGETS.backlogGrowthRatio}: ${met('backlogGrowthRatio')}`]);
    }
    out.push(['backlog: drain once the endpoint is up', `${n(x.drainPerSec)} /s`, '', '', '']);
  }
  if (r.cipher) {
    const x = r.cipher;
    out.push(['cipher: verify + decrypt + reply /s, one core', n(x.opsPerSec), `${n(x.floorOpsPerSec)} (AES floor)`, x.ratioToFloor.toFixed(2), `≥ 0.5: ${met('cipherRatioToFloor')}`]);
  }
  if (r.switch) {
    const x = r.switch;
    out.push(['switch: events/s, event-type rule', n(x.eventsPerSec), n(x.baselineEventsPerSec), x.ratio.toFixed(2), '']);
  }
  if (r.plainflow) {
    // time ratios (lower is better): the package's cost to a flow without DingTalk nodes
    const x = r.plainflow;
    const s = (v) => `${v.toFixed(2)} s`;
    out.push([`plainflow: ${n(x.passMessages)} msgs (median of ${x.passes}), installed`, s(x.seconds.installed), s(x.seconds.without), x.installedRatio.toFixed(2),
      `≤ 1.05: ${met('plainflowInstalledRatio')}`]);
    out.push(['plainflow: the same, a DingTalk event in flight', s(x.seconds.inFlight), s(x.seconds.without), x.inFlightRatio.toFixed(2),
      `≤ 1.05: ${met('plainflowInFlightRatio')}`]);
    const c = x.cpuUsPerMessage;
    out.push(['plainflow: Node-RED CPU per msg, installed / in flight', `${c.installed} / ${c.inFlight} µs`, `${c.without} µs`,
      `${x.cpuRatio.installed.toFixed(2)} / ${x.cpuRatio.inFlight.toFixed(2)}`, '']);
  }
  if (r.redis) out.push(...redisRows(r.redis, n));
  return out;
}

/** The redis section's rows: the dispatch rows compare Redis with SQLite, the scale rows two instances with one. */
function redisRows(x, n) {
  const out = [];
  const names = Object.keys(STORES);
  const rc = x.receive;
  for (const name of names) {
    out.push([`redis: receive pushes/s, ${STORES[name].label}`, n(rc.stores[name].rps), n(rc.baselineRps), rc.stores[name].ratio.toFixed(2), '']);
  }
  out.push([`redis: receive p99 at ${n(rc.latencyAtRps)} req/s, SQLite / always / everysec`, names.map((k) => rc.stores[k].p99Ms).join(' / ') + ' ms', '', '', '']);
  const d = x.dispatch.stores;
  out.push(['redis: deliveries/s to 1 endpoint, SQLite', n(d.sqlite.deliveriesPerSec), '', '', '']);
  for (const name of names.filter((k) => k !== 'sqlite')) {
    out.push([`redis: deliveries/s, ${STORES[name].label} (vs SQLite)`, n(d[name].deliveriesPerSec), n(d.sqlite.deliveriesPerSec),
      (d[name].deliveriesPerSec / d.sqlite.deliveriesPerSec).toFixed(2), '']);
  }
  const [one, two] = [x.scale.instances[1], x.scale.instances[2]];
  if (one && two) {
    out.push(['redis: 2 vs 1 instances, pushes/s received via proxy', n(two.receivedPerSec), n(one.receivedPerSec), (two.receivedPerSec / one.receivedPerSec).toFixed(2), '']);
    out.push(['redis: 2 vs 1 instances, deliveries/s', n(two.deliveriesPerSec), n(one.deliveriesPerSec), (two.deliveriesPerSec / one.deliveriesPerSec).toFixed(2), '']);
    out.push([`redis: 2 vs 1 instances, CPU busy of ${x.cpus} cores: bench / machine`, `${two.ownBusyPercent} / ${two.machineBusyPercent} %`,
      `${one.ownBusyPercent} / ${one.machineBusyPercent} %`, '', '']);
  }
  return out;
}

const HEAD = ['benchmark', 'hub', 'Node-RED core / floor', 'ratio', 'target'];

function textTable(data) {
  const all = [HEAD, ...data];
  const widths = HEAD.map((_, i) => Math.max(...all.map((row) => row[i].length)));
  return all.map((row) => row.map((cell, i) => (i === 0 || i === 4 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')).join('\n');
}

function markdownTable(data) {
  return [HEAD, HEAD.map((_, i) => (i === 0 || i === 4 ? '---' : '---:')), ...data].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

// --- main ---------------------------------------------------------------------------------------

/** Whether `dir` holds a complete build: every node's .js and the core. */
function complete(dir) {
  const nodes = Object.values(require('../package.json')['node-red'].nodes);
  return [...nodes, 'core/cipher.js', 'core/store/event-store.js'].every((f) => fs.existsSync(path.join(dir, f)));
}

/**
 * Packs and installs the package once; everything after runs on that copy, so a rebuild of the working
 * tree during the run changes nothing. A build in progress (its output half deleted) is waited for.
 */
async function installSnapshot() {
  const root = path.resolve(__dirname, '..');
  for (let attempt = 1; attempt <= 3; attempt++) {
    await waitFor('a complete build (npm run build)', () => complete(root), 120000);
    const install = installPackedModule();
    if (complete(path.join(install.userDir, 'node_modules', '@dingtalk-hub', 'node-red-dingtalk'))) return install;
    fs.rmSync(install.work, { recursive: true, force: true });
  }
  throw new Error('the packed package is missing compiled files three times in a row: is a build running in a loop?');
}

/** Prints and writes the table of a result (`node bench/run.js --report` re-renders latest.json). */
function report(result) {
  const data = rows(result);
  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(path.join(RESULTS, 'latest.md'), `${markdownTable(data)}\n\n${result.machine}\n`);
  console.log(`\n${textTable(data)}\n\n${result.machine}`);
}

async function main() {
  if (process.argv.includes('--report')) return report(JSON.parse(fs.readFileSync(path.join(RESULTS, 'latest.json'), 'utf8')));
  const began = Date.now();
  const loadAverageAtStart = os.loadavg().map((x) => round(x, 2));
  pin(process.pid, LOAD_CPU);
  const names = ONLY.length ? ONLY : Object.keys(SECTIONS);
  for (const name of names) if (!SECTIONS[name]) throw new Error(`unknown section ${name} (${Object.keys(SECTIONS).join(', ')})`);
  const out = path.join(RESULTS, 'latest.json');
  const previous = ONLY.length && fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : {};

  log('packing and installing the package into a throw-away user directory');
  const install = await installSnapshot();
  const packageDir = path.join(install.userDir, 'node_modules', '@dingtalk-hub', 'node-red-dingtalk');
  const { generateAesKey, generateToken, randomAlphanumeric } = require(path.join(packageDir, 'core', 'cipher'));
  const ctx = {
    userDir: install.userDir,
    packageDir,
    // throw-away credentials, made up for this run only
    app: { appKey: `dingbench${randomAlphanumeric(10).toLowerCase()}`, token: generateToken(), aesKey: generateAesKey() },
    webhookSecret: `whsec_${require('node:crypto').randomBytes(32).toString('base64')}`,
  };
  ctx.loader = new Child(path.join(__dirname, 'load.js'), { cpu: LOAD_CPU });
  ctx.sink = new Child(path.join(__dirname, 'sink.js'), { cpu: LOAD_CPU });
  await ctx.loader.call('configure', { cipherModule: path.join(packageDir, 'core', 'cipher'), app: ctx.app, runId: `${Date.now().toString(36)}` });

  const result = { ...previous };
  try {
    for (const name of names) {
      const t = Date.now();
      log(`${name}…`);
      result[name] = await SECTIONS[name](ctx);
      log(`${name} done in ${Math.round((Date.now() - t) / 1000)} s:`, JSON.stringify(result[name]));
    }
  } finally {
    ctx.loader.stop();
    ctx.sink.stop();
    fs.rmSync(install.work, { recursive: true, force: true });
  }
  result.machine = machine();
  result.loadAverageAtStart = loadAverageAtStart;
  result.date = new Date().toISOString();
  result.wallClockSeconds = round((Date.now() - began) / 1000);
  result.targets = targets(result);

  fs.mkdirSync(RESULTS, { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  report(result);
  console.log(`wall clock ${result.wallClockSeconds} s; written ${path.relative(process.cwd(), out)}`);
}

if (require.main === module) {
  main().then(() => process.exit(0), (err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  module.exports = { CONFIG, installSnapshot, startRed, receiveFlow, dispatchFlow, backlogFlow };
}
