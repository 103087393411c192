'use strict';
// The redis section of npm run bench (issue 14): the hub on Redis beside the embedded SQLite store, in one run.
//   receive   unique pushes into dingtalk-event-in, which answers once the event is stored, with the store
//             on SQLite, on Redis with `appendfsync always` and on Redis with `appendfsync everysec`
//             (three Node-RED processes, all pinned to Node-RED's CPU, their rounds alternating), each a ratio
//             against one baseline: core http in -> http response in the SQLite process, in the same rounds
//   dispatch  dingtalk-event-in -> dingtalk-dispatch -> one endpoint on each of the three stores:
//             deliveries/s counted at the endpoint, from the first push to the last delivery
//   scale     one and two Node-RED instances on one Redis (`appendfsync always`), the pushes spread by a
//             round-robin proxy, rounds alternating: pushes/s received (while delivering) and deliveries/s
// Every redis-server is one of the bench's own (test/support/redis-server.js) on a loopback port, with
// AOF on and the hub's durability 'server' (Debian's 7.0 has no WAITAOF): `appendfsync` decides what an
// acknowledged event survives, `always` a crash of the server, `everysec` at most about a second lost.
// Redis runs beside the load generator (CPU 1), as it would on a machine of its own, and its CPU per push
// is reported. The scale part cannot pin: two Node-RED instances, Redis, the proxy, the load generator
// and the endpoint share the 2 cores, so every process may use both, and the CPU of each (per event) and
// the share of the cores they used are reported; with 2 cores, two instances can only show what the
// second core adds.
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { createClient } = require('redis');
const { RedisServer } = require('../test/support/redis-server');
const { waitFor } = require('../test/support/node-red-process');
const { redisStoreSettings, userDirFor } = require('../test/support/multi-instance');
const { Child, pin } = require('./lib/child');
const { cpuMs, machineCpu } = require('./lib/proc');

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x, digits = 0) => Number(x.toFixed(digits));
/** The store variants of the receive and dispatch parts, in the order they alternate. */
const STORES = {
  sqlite: { label: 'SQLite' },
  redisAlways: { label: 'Redis, appendfsync always', appendfsync: 'always' },
  redisEverysec: { label: 'Redis, appendfsync everysec', appendfsync: 'everysec' },
};
const ALL_CPUS = `0-${os.cpus().length - 1}`;

/** /hub stores and answers (nothing wired), /hubd hands each event to one dingtalk-dispatch, /core echoes. */
function storesFlow(ctx, appNode, endpoint, concurrency) {
  return [
    { id: 'tab', type: 'tab', label: 'redis' },
    appNode(ctx),
    { id: 'hub-in', z: 'tab', type: 'dingtalk-event-in', app: 'app', url: '/hub', wires: [[]] },
    { id: 'hubd-in', z: 'tab', type: 'dingtalk-event-in', app: 'app', url: '/hubd', wires: [['oa']] },
    { id: 'oa', z: 'tab', type: 'dingtalk-dispatch', url: `${endpoint}/hub`, format: 'json', concurrency,
      credentials: { secret: ctx.webhookSecret }, wires: [[], []] },
    { id: 'core-in', z: 'tab', type: 'http in', url: '/core', method: 'post', upload: false, wires: [['core-out']] },
    { id: 'core-out', z: 'tab', type: 'http response', wires: [] },
  ];
}

async function startRedis(appendfsync, cpu) {
  const server = await new RedisServer({ config: { appendfsync } }).start();
  pin(server.child.pid, cpu);
  return server;
}

/**
 * Until a push to `url` is acknowledged (the route exists before the store is connected); with `redis`,
 * the push must have landed there: a Node-RED that ignored `dingtalkStore` would measure SQLite instead.
 */
async function untilAcknowledged(ctx, url, redis) {
  await waitFor(`a push acknowledged at ${url}`, async () => (await ctx.loader.call('load', { url, connections: 1, amount: 1 })).ok >= 1, 60000);
  if (!redis) return;
  const client = createClient({ url: redis.url });
  await client.connect();
  try {
    if ((await client.dbSize()) === 0) throw new Error(`${url} acknowledged a push but ${redis.url} holds no key: dingtalkStore was not used`);
  } finally {
    await client.quit();
  }
}

/** A user directory of its own for another Node-RED process, sharing the installed package. */
const userDir = (ctx, name) => userDirFor({ work: path.dirname(ctx.userDir), userDir: ctx.userDir }, name, false);

/**
 * `events` pushes to `url` as fast as `connections` go, each to be delivered once to the sink. The
 * clock of deliveries runs from the first push to the last delivery; `pids` are the processes whose CPU
 * is measured over the round.
 */
async function pushAndDeliver(ctx, url, events, { connections, pids = {}, problems, name }) {
  await ctx.sink.call('reset');
  const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid)]));
  const machineBefore = machineCpu();
  const began = Date.now();
  const l = await ctx.loader.call('load', { url, connections, amount: events, timeoutS: 30 });
  const s = await ctx.sink.call('waitFor', { total: l.ok, timeoutMs: 180000 }, 200000);
  const wallMs = Date.now() - began;
  const machineAfter = machineCpu();
  if (s.total !== l.ok || l.ok < events) problems.push(`${name}: ${l.ok}/${events} pushes answered 2xx, ${s.total}/${l.ok} deliveries`);
  const cpu = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuMs(pid) - before[k]]));
  return {
    receivedPerSec: l.ok / ((l.lastAt - l.startedAt) / 1000),
    deliveriesPerSec: s.total / ((s.lastAt - l.startedAt) / 1000),
    cpuMsPerDelivery: Object.fromEntries(Object.entries(cpu).map(([k, ms]) => [k, ms / s.total])),
    // the bench's own processes against all cores, and the whole machine (other jobs included)
    ownBusy: Object.values(cpu).reduce((a, b) => a + b, 0) / (wallMs * os.cpus().length),
    machineBusy: (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
  };
}

/** The median of each figure over rounds, CPU per delivery (ms) by process. */
function medians(runs) {
  const out = { receivedPerSec: round(median(runs.map((r) => r.receivedPerSec))), deliveriesPerSec: round(median(runs.map((r) => r.deliveriesPerSec))) };
  out.ownBusyPercent = round(100 * median(runs.map((r) => r.ownBusy)));
  out.machineBusyPercent = round(100 * median(runs.map((r) => r.machineBusy)));
  out.cpuMsPerDelivery = Object.fromEntries(Object.keys(runs[0].cpuMsPerDelivery).map((k) => [k, round(median(runs.map((r) => r.cpuMsPerDelivery[k])), 3)]));
  // every measured process together: what one event costs the machine, hence its ceiling on these cores
  out.allCpuMsPerDelivery = round(median(runs.map((r) => Object.values(r.cpuMsPerDelivery).reduce((a, b) => a + b, 0))), 3);
  // each round, so that the spread on a shared machine is on record beside the median
  out.roundsReceivedPerSec = runs.map((r) => round(r.receivedPerSec));
  out.roundsDeliveriesPerSec = runs.map((r) => round(r.deliveriesPerSec));
  return out;
}

/** receive and dispatch on the three stores, side by side. */
async function stores(ctx, { config: c, startRed, appNode }) {
  const problems = [];
  const endpoint = await ctx.sink.call('listen', { name: 'redis-stores' });
  const flow = storesFlow(ctx, appNode, endpoint, c.concurrency);
  const running = {};
  try {
    for (const [name, store] of Object.entries(STORES)) {
      const redis = store.appendfsync ? await startRedis(store.appendfsync, c.loadCpu) : undefined;
      const red = await startRed(ctx, flow, userDir(ctx, name), { settings: redis ? redisStoreSettings(redis, { prefix: `bench-${name}` }) : {} });
      running[name] = { red, redis };
      await untilAcknowledged(ctx, `${red.nodeBase}/hub`, redis);
      await untilAcknowledged(ctx, `${red.nodeBase}/hubd`, redis);
    }
    const base = running.sqlite.red;
    const receiveRuns = { baseline: [], ...Object.fromEntries(Object.keys(STORES).map((n) => [n, []])) };
    const saturate = async (name, url, red, redis, duration, keep = true) => {
      const cpuBefore = cpuMs(red.child.pid);
      const redisBefore = redis ? cpuMs(redis.child.pid) : 0;
      const r = await ctx.loader.call('load', { url, connections: c.connections, duration, ready: c.readyPerSecond * duration });
      r.cpuMsPerPush = (cpuMs(red.child.pid) - cpuBefore) / r.ok;
      r.redisCpuMsPerPush = redis ? (cpuMs(redis.child.pid) - redisBefore) / r.ok : undefined;
      if (keep && (r.non2xx || r.errors || r.timeouts)) problems.push(`receive ${name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
      if (keep) receiveRuns[name].push(r);
    };
    const cases = [['baseline', `${base.nodeBase}/core`, base], ...Object.keys(STORES).map((n) => [n, `${running[n].red.nodeBase}/hub`, running[n].red, running[n].redis])];
    for (const [name, url, red, redis] of cases) await saturate(name, url, red, redis, c.warmupS, false);
    for (let r = 0; r < c.rounds; r++) for (const [name, url, red, redis] of cases) await saturate(name, url, red, redis, c.roundS);
    const m = (name, key) => median(receiveRuns[name].map((x) => x[key]));
    // Latency under a load every store keeps up with: half the slowest one's saturated rate.
    const rate = Math.min(c.fixedRate, Math.max(50, Math.floor((0.5 * Math.min(...Object.keys(STORES).map((n) => m(n, 'rps')))) / 50) * 50));
    const receive = { baselineRps: round(m('baseline', 'rps')), baselineRoundsRps: receiveRuns.baseline.map((x) => round(x.rps)), latencyAtRps: rate, rounds: c.rounds, roundSeconds: c.roundS, connections: c.connections, stores: {} };
    for (const name of Object.keys(STORES)) {
      const fixed = await ctx.loader.call('paced', { url: `${running[name].red.nodeBase}/hub`, rate, seconds: c.fixedS });
      if (fixed.non2xx || fixed.errors) problems.push(`receive ${name} at ${rate}/s: ${fixed.non2xx} non-2xx, ${fixed.errors} errors`);
      receive.stores[name] = {
        rps: round(m(name, 'rps')),
        roundsRps: receiveRuns[name].map((x) => round(x.rps)),
        ratio: round(m(name, 'rps') / m('baseline', 'rps'), 2),
        p50Ms: fixed.p50Ms,
        p99Ms: fixed.p99Ms,
        saturatedP99Ms: m(name, 'p99Ms'),
        cpuMsPerPush: round(m(name, 'cpuMsPerPush'), 3),
        ...(STORES[name].appendfsync ? { redisCpuMsPerPush: round(m(name, 'redisCpuMsPerPush'), 3) } : {}),
      };
    }

    const dispatchRuns = Object.fromEntries(Object.keys(STORES).map((n) => [n, []]));
    const deliver = (name, events, keep = true) => pushAndDeliver(ctx, `${running[name].red.nodeBase}/hubd`, events, {
      connections: c.dispatchConnections, problems: keep ? problems : [], name: `dispatch ${name}`,
      pids: { nodeRed: running[name].red.child.pid, ...(running[name].redis ? { redis: running[name].redis.child.pid } : {}) },
    }).then((r) => keep && dispatchRuns[name].push(r));
    for (const name of Object.keys(STORES)) await deliver(name, c.warmupEvents, false);
    for (let r = 0; r < c.rounds; r++) for (const name of Object.keys(STORES)) await deliver(name, c.events);
    const dispatch = { endpoints: 1, eventsPerRound: c.events, rounds: c.rounds, dispatchConcurrency: c.concurrency, stores: {} };
    for (const name of Object.keys(STORES)) {
      const x = medians(dispatchRuns[name]);
      dispatch.stores[name] = { deliveriesPerSec: x.deliveriesPerSec, receivedPerSec: x.receivedPerSec, cpuMsPerDelivery: x.cpuMsPerDelivery.nodeRed,
        ...(x.cpuMsPerDelivery.redis !== undefined ? { redisCpuMsPerDelivery: x.cpuMsPerDelivery.redis } : {}) };
    }
    return { receive, dispatch, problems };
  } finally {
    for (const { red, redis } of Object.values(running)) {
      await red.stop();
      if (redis) await redis.stop();
    }
    await ctx.sink.call('close');
  }
}

/**
 * One and two instances on one Redis behind the round-robin proxy, every process free to use every CPU.
 * Both instances run from the start and the rounds alternate (1, 2, 1, 2, …), so that a slow spell of
 * the shared machine hits both alike: for a one-instance round the second is paused (SIGSTOP), since a
 * running instance would take part in delivering (it polls the shared queue) even with no pushes of its own.
 */
async function scale(ctx, { config: c, startRed, appNode, redisVersion }) {
  const problems = [];
  for (const child of [ctx.loader, ctx.sink]) pin(child.proc.pid, ALL_CPUS);
  const proxy = new Child(path.join(__dirname, 'lib', 'proxy.js'), { cpu: ALL_CPUS });
  const redis = await startRedis('always', ALL_CPUS);
  const reds = [];
  let paused;
  try {
    const endpoint = await ctx.sink.call('listen', { name: 'redis-scale' });
    const flow = storesFlow(ctx, appNode, endpoint, c.concurrency).filter((n) => n.id !== 'hub-in' && !n.id.startsWith('core-'));
    const proxyUrl = await proxy.call('start');
    for (const name of ['scale-1', 'scale-2']) {
      const red = await startRed(ctx, flow, userDir(ctx, name), { settings: redisStoreSettings(redis, { prefix: 'bench-scale' }), cpu: ALL_CPUS });
      reds.push(red);
      await untilAcknowledged(ctx, `${red.nodeBase}/hubd`, redis);
    }
    const runs = { 1: [], 2: [] };
    const sent = { 1: [0], 2: [0, 0] };
    for (let r = 0; r < c.rounds; r++) {
      for (const count of [1, 2]) {
        const active = reds.slice(0, count);
        if (count === 1) {
          paused = reds[1].child.pid;
          process.kill(paused, 'SIGSTOP');
        } else if (paused) {
          process.kill(paused, 'SIGCONT');
          paused = undefined;
        }
        await proxy.call('targets', { targets: active.map((red) => red.nodeBase) });
        const pids = { redis: redis.child.pid, proxy: proxy.proc.pid, loader: ctx.loader.proc.pid, sink: ctx.sink.proc.pid };
        active.forEach((red, i) => { pids[`nodeRed${i + 1}`] = red.child.pid; });
        const once = (events, keep) => pushAndDeliver(ctx, `${proxyUrl}/hubd`, events, { connections: c.connections, pids, problems: keep ? problems : [], name: `${count} instance(s)` });
        await once(c.warmupEvents, false); // settles the switch (a resumed instance catches up on its timers)
        runs[count].push(await once(c.scaleEvents, true));
        (await proxy.call('sent')).forEach((n, i) => { sent[count][i] += n; });
      }
    }
    return {
      store: 'Redis, appendfsync always', redisVersion, pinned: false, eventsPerRound: c.scaleEvents, rounds: c.rounds,
      dispatchConcurrency: c.concurrency, connections: c.connections,
      instances: { 1: { ...medians(runs[1]), pushesPerInstance: sent[1] }, 2: { ...medians(runs[2]), pushesPerInstance: sent[2] } },
      problems,
    };
  } finally {
    if (paused) process.kill(paused, 'SIGCONT');
    for (const red of reds) await red.stop();
    await redis.stop();
    proxy.stop();
    await ctx.sink.call('close');
    for (const child of [ctx.loader, ctx.sink]) pin(child.proc.pid, c.loadCpu);
  }
}

/** The version of the redis-server binary the bench starts (test/support/redis-server.js's). */
function redisVersion() {
  try {
    const out = execFileSync(process.env.REDIS_SERVER || 'redis-server', ['--version'], { encoding: 'utf8' });
    return (/v=(\S+)/.exec(out) || [])[1];
  } catch {
    return undefined;
  }
}

/** The section: `options` = { config, startRed(ctx, flow, userDir, { settings, cpu }), appNode }. */
async function redisSection(ctx, options) {
  const version = redisVersion();
  const s = await stores(ctx, options);
  const scaled = await scale(ctx, { ...options, redisVersion: version });
  const problems = [...s.problems, ...scaled.problems];
  delete scaled.problems;
  return {
    redisVersion: version,
    durability: 'server: a push is acknowledged once the server has executed the write; its appendfsync decides what a server crash loses',
    receive: s.receive,
    dispatch: s.dispatch,
    scale: scaled,
    cpus: os.cpus().length,
    ...(problems.length ? { problems } : {}),
  };
}

module.exports = { redisSection, STORES };
