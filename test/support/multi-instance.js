'use strict';
// What the multi-instance tests (test/e2e/multi-instance.test.js, issue 14) share: hub instances (real
// Node-RED processes with the packed module) on one redis-server of the test's own, each started with
// its name in HUB_INSTANCE; the flows they run, which tell the subscriber which instance delivered
// (header x-hub-instance) and report every message a receiver emits to an emission log (so "emitted
// once across both" is counted where it happens, not inferred from deliveries, which the outbox
// de-duplicates anyway); and a reader of the redis-server's append-only files, for "acknowledged only
// after Redis has it".
const fs = require('node:fs');
const path = require('node:path');
const { NodeRedProcess } = require('./node-red-process');
const { hubFlow } = require('./hub-e2e');

const REDIS_PREFIX = 'dthub-test';

/** The settings.js entry that puts an instance on `redis` (a test/support/redis-server.js server). */
const redisStoreSettings = (redis, config = {}) => ({
  dingtalkStore: { module: 'redis', config: { url: redis.url, prefix: REDIS_PREFIX, durability: 'server', ...config } },
});

/**
 * A user directory for instance `name`: the installed one for the first, a directory of its own for the
 * others (Node-RED writes its .config files there) that shares the installed package's node_modules.
 */
function userDirFor(install, name, first) {
  if (first) return install.userDir;
  const dir = path.join(install.work, `userdir-${name}`);
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir);
    fs.copyFileSync(path.join(install.userDir, 'package.json'), path.join(dir, 'package.json'));
    fs.symlinkSync(path.join(install.userDir, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  }
  return dir;
}

/**
 * Starts instances named `names` (e.g. ['A', 'B']) on `redis`, in parallel; `settings` are added to each
 * one's settings.js. `cleanup(fn)` registers their kill for after the test.
 */
async function startInstances(install, redis, names, { settings = {}, cleanup }) {
  const reds = names.map((name, i) => {
    const red = new NodeRedProcess(userDirFor(install, name, i === 0), { ...redisStoreSettings(redis), ...settings }, { env: { HUB_INSTANCE: name } });
    red.name = name;
    cleanup(() => red.kill());
    return red;
  });
  await Promise.all(reds.map((red) => red.start()));
  return reds;
}

/** Dispatch headers naming the delivering instance (Node-RED puts the environment variable in at deploy). */
const INSTANCE_HEADER = [{ k: 'x-hub-instance', v: '${HUB_INSTANCE}' }];

/**
 * The emission probe: each message that reaches it is POSTed to `logUrl` (a test/support/sink.js) as
 * { id, instance, redelivered }. Wire a receiver's output to 'emit1'.
 */
const emissionProbe = (z, logUrl) => [
  { id: 'emit1', z, type: 'function', name: 'emission', outputs: 1, wires: [['emit2']],
    func: [
      "msg.payload = { id: msg.dingtalk.eventId, instance: env.get('HUB_INSTANCE'), redelivered: msg.dingtalk.redelivered === true };",
      "msg.headers = { 'content-type': 'application/json' };",
      'return msg;',
    ].join('\n') },
  { id: 'emit2', z, type: 'http request', name: 'emission log', method: 'POST', ret: 'txt', paytoqs: 'ignore', url: logUrl,
    tls: '', persist: false, proxy: '', authType: '', senderr: false, headers: [], wires: [[]] },
];

/**
 * The HTTP hub (receiver in1 -> dispatch oa1, see hub-e2e's hubFlow) with the emission probe on in1 and
 * the instance header on the dispatch node. `holdSeconds`: a delay node between in1 and oa1 that holds
 * each message that long (events acknowledged but not handed on yet). `more`: further dispatch nodes
 * ({ id, url, ...options }) wired to in1 too.
 */
function probedHubFlow(endpointUrl, logUrl, { dispatch = {}, holdSeconds, more = [] } = {}) {
  const flow = hubFlow(endpointUrl, { headers: INSTANCE_HEADER, ...dispatch });
  const first = holdSeconds ? 'hold1' : 'oa1';
  flow.find((n) => n.id === 'in1').wires = [[first, ...more.map((d) => d.id), 'emit1']];
  if (holdSeconds) {
    flow.push({ id: 'hold1', z: 'tab1', type: 'delay', pauseType: 'delay', timeout: String(holdSeconds), timeoutUnits: 'seconds',
      rate: '1', nbRateUnits: '1', rateUnits: 'second', randomFirst: '1', randomLast: '5', randomUnits: 'seconds',
      drop: false, allowrate: false, outputs: 1, wires: [['oa1']] });
  }
  for (const d of more) flow.push({ z: 'tab1', type: 'dingtalk-dispatch', headers: INSTANCE_HEADER, wires: [[], []], ...d });
  flow.push(...emissionProbe('tab1', logUrl));
  return flow;
}

/** A Stream-mode hub: app1 (appKey, appSecret) -> stream-in s1 -> dispatch oa1 and the emission probe. */
const probedStreamFlow = (appKey, appSecret, endpointUrl, logUrl, dispatch = {}) => [
  { id: 'tab1', type: 'tab', label: 'stream hub' },
  { id: 'app1', type: 'dingtalk-app', appKey, callbackStyle: 'event-subscription', credentials: { appSecret } },
  { id: 's1', z: 'tab1', type: 'dingtalk-stream-in', app: 'app1', wires: [['oa1', 'emit1']] },
  { id: 'oa1', z: 'tab1', type: 'dingtalk-dispatch', url: endpointUrl, headers: INSTANCE_HEADER, wires: [[], []], ...dispatch },
  ...emissionProbe('tab1', logUrl),
];

/** The emission log's records by event id: Map id -> [{ id, instance, redelivered }]. */
function emissionsById(log) {
  const out = new Map();
  for (const e of log.received) {
    if (!out.has(e.id)) out.set(e.id, []);
    out.get(e.id).push(e);
  }
  return out;
}

/**
 * What a redis-server has written to its append-only files so far (appendonlydir/*.aof), read on: the
 * files only grow, so each call reads what was added since the last one. With `appendfsync always` the
 * server writes (and fsyncs) a write there before it answers it.
 */
function aofReader(redisDir) {
  const dir = path.join(redisDir, 'appendonlydir');
  const read = new Map(); // file -> { offset, text }
  return {
    /** Whether `text` occurs in the files as they are now. */
    has(text) {
      if (!fs.existsSync(dir)) return false;
      for (const name of fs.readdirSync(dir)) {
        if (!name.endsWith('.aof')) continue;
        const file = path.join(dir, name);
        const seen = read.get(file) || { offset: 0, text: '' };
        const size = fs.statSync(file).size;
        if (size > seen.offset) {
          const fd = fs.openSync(file, 'r');
          try {
            const buf = Buffer.alloc(size - seen.offset);
            fs.readSync(fd, buf, 0, buf.length, seen.offset);
            seen.text += buf.toString('latin1');
            seen.offset = size;
          } finally {
            fs.closeSync(fd);
          }
        }
        read.set(file, seen);
      }
      return [...read.values()].some((f) => f.text.includes(text));
    },
  };
}

/** Runs fn over items with at most `concurrency` at a time. */
async function pool(items, concurrency, fn) {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

module.exports = {
  REDIS_PREFIX, redisStoreSettings, userDirFor, startInstances, INSTANCE_HEADER, emissionProbe, probedHubFlow, probedStreamFlow,
  emissionsById, aofReader, pool,
};
