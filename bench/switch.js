#!/usr/bin/env node
// Events per second through dingtalk-event-switch and, as the baseline measured in the same run, core
// `switch` with an equivalent rule (msg.topic == "bpms_instance_change" vs "event type is
// bpms_instance_change"). Both run in one embedded Node-RED runtime with this package installed in a
// throw-away user directory; messages are injected at the switch and counted where they arrive.
// Rounds alternate between the cases and the median is reported, so machine noise hits all alike.
// With --json prints {eventsPerSec, baselineEventsPerSec, ratio, ...} (bench/run.js, which sets
// BENCH_PACKAGE_DIR to the installed package to measure).
//   node bench/switch.js [events=100000] [rounds=5] [--json]
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const RED = require('node-red');
const JSON_ONLY = process.argv.includes('--json');
const argv = process.argv.slice(2).filter((a) => a !== '--json');
const root = process.env.BENCH_PACKAGE_DIR || path.resolve(__dirname, '..');
const { describeEvent } = require(path.join(root, 'core', 'events'));

const EVENTS = Number(argv[0] || 100000);
const ROUNDS = Number(argv[1] || 5);
const fixtures = path.resolve(__dirname, '..', '..', 'shared', 'fixtures', 'events');
const samples = fs.readdirSync(fixtures).filter((f) => f.endsWith('.json') && f !== 'index.json').map((f) => {
  const text = fs.readFileSync(path.join(fixtures, f), 'utf8');
  const payload = JSON.parse(text);
  const dingtalk = describeEvent(payload, 'http', { plaintext: text });
  return { topic: dingtalk.eventType, payload, dingtalk };
});

const CASES = {
  'core switch: msg.topic == bpms_instance_change': { type: 'switch', property: 'topic', propertyType: 'msg', checkall: 'false',
    outputs: 2, rules: [{ t: 'eq', v: 'bpms_instance_change', vt: 'str' }, { t: 'else' }] },
  'dingtalk-event-switch: type is bpms_instance_change': { type: 'dingtalk-event-switch', checkall: 'false', otherwise: true,
    outputs: 2, rules: [{ t: 'type', v: ['bpms_instance_change'] }] },
  'dingtalk-event-switch: group is approval': { type: 'dingtalk-event-switch', checkall: 'false', otherwise: true,
    outputs: 2, rules: [{ t: 'group', v: 'approval' }] },
};

async function startRuntime() {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-bench-'));
  fs.mkdirSync(path.join(userDir, 'node_modules', '@dingtalk-hub'), { recursive: true });
  fs.symlinkSync(root, path.join(userDir, 'node_modules', '@dingtalk-hub', 'node-red-dingtalk'), 'dir');
  const server = http.createServer();
  RED.init(server, {
    userDir, flowFile: 'flows.json', credentialSecret: false, httpAdminRoot: false, httpNodeRoot: false,
    logging: { console: { level: process.env.BENCH_LOG || 'warn' } }, telemetry: { enabled: false }, editorTheme: { projects: { enabled: false } },
  });
  const started = new Promise((r) => RED.events.once('flows:started', r)); // RED.start() resolves before that
  await RED.start();
  await started;
  return { userDir, stop: async () => { await RED.stop(); fs.rmSync(userDir, { recursive: true, force: true }); } };
}

async function deploy(node) {
  const flows = [
    { id: 'tab', type: 'tab', label: 'bench' },
    { id: 'under-test', z: 'tab', ...node, wires: [['sink'], ['sink']] },
    { id: 'sink', z: 'tab', type: 'debug', active: false, tosidebar: false, wires: [] },
  ];
  const started = new Promise((r) => RED.events.once('flows:started', r));
  await RED.runtime.flows.setFlows({ flows: { flows }, deploymentType: 'full' });
  await started;
}

async function runOnce(node) {
  await deploy(node);
  const target = RED.nodes.getNode('under-test');
  if (!target) throw new Error(`${node.type} was not deployed`);
  let received = 0;
  let resolve;
  const finished = new Promise((r) => { resolve = r; });
  RED.hooks.add('onReceive.bench', (event) => {
    if (event.destination.id === 'sink' && ++received === EVENTS) resolve();
  });
  const start = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++) target.receive({ ...samples[i % samples.length] });
  await finished;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  RED.hooks.remove('onReceive.bench');
  return EVENTS / seconds;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

(async () => {
  const runtime = await startRuntime();
  const names = Object.keys(CASES);
  const rates = Object.fromEntries(names.map((k) => [k, []]));
  for (const name of names) await runOnce(CASES[name]); // warm-up
  for (let r = 0; r < ROUNDS; r++) for (const name of names) rates[name].push(await runOnce(CASES[name]));
  await runtime.stop();
  const baseline = median(rates[names[0]]);
  if (JSON_ONLY) {
    const typeRule = median(rates[names[1]]);
    console.log(JSON.stringify({ eventsPerSec: Math.round(typeRule), baselineEventsPerSec: Math.round(baseline), ratio: Number((typeRule / baseline).toFixed(2)),
      groupRuleEventsPerSec: Math.round(median(rates[names[2]])), events: EVENTS, rounds: ROUNDS }));
    process.exit(0);
  }
  console.log(`${EVENTS} events per round, ${ROUNDS} rounds; median events/s and ratio to core switch:`);
  for (const name of names) {
    const m = median(rates[name]);
    console.log(`  ${name.padEnd(52)} ${Math.round(m).toString().padStart(8)} /s   x${(m / baseline).toFixed(2)}`);
  }
  process.exit(0);
})().catch((err) => { console.error(err); process.exit(1); });
