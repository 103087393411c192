'use strict';
// The plainflow section of npm run bench: installing the package must not slow down a user's other
// flows. Messaging hooks (RED.hooks) run for every message in the runtime, whatever node sent it, so the
// same flow without any DingTalk node runs in three Node-RED processes, pinned to the same CPU:
//   without    Node-RED alone (a user directory where the package is not installed)
//   installed  the packed package installed, no DingTalk node deployed
//   inFlight   the package installed and, on another tab, dingtalk-event-in -> core delay (1 hour)
//              holding one signed push, so a DingTalk event is in flight while the plain flow runs
// The plain flow is inject -> source function -> change -> function -> debug (sidebar and console off).
// The source emits the inject's msg.total messages in chunks: each chunk goes out with a message on a
// second output wired back to the source, which Node-RED delivers after the chunk (every delivery is a
// setImmediate), so at most a few chunks are queued at any time and memory stays flat. The function
// before the debug node stamps the first and the last message and logs both; the clock runs from first to last.
// Each process runs `messages` messages in `passes` passes that alternate between the processes (their
// order rotating each round): the machine is shared, and short alternating passes spread its slow spells
// over all three alike. The median pass per process is compared: a time ratio, 1.00 meaning no cost,
// the target at most 1.05.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { waitFor } = require('../test/support/node-red-process');
const { makePush } = require('../test/support/push');
const { peakRss, cpuMs } = require('./lib/proc');

const FIXTURE = path.resolve(__dirname, '..', '..', 'shared', 'fixtures', 'events', 'bpms_instance_change.json');
const DONE = /plainflow-done (\{[^}\n]*\})/;
const EMITTED = 'plainflow-event-emitted';
const RELEASED = 'plainflow-event-released';
const VARIANTS = ['without', 'installed', 'inFlight'];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x, digits = 0) => Number(x.toFixed(digits));

/** The flow under test; its messages share the inject's _msgid, as a split node's parts do. */
function plainTab({ passMessages, chunk }) {
  // msg.total messages (the inject's, or fewer for a warm-up), numbered from 0; msg.next continues
  const source = `const total = msg.total;
const from = typeof msg.next === 'number' ? msg.next : 0;
const to = Math.min(from + ${chunk}, total);
const out = [];
for (let i = from; i < to; i++) out.push({ payload: i, total });
return [out, to < total ? { next: to, total } : null];`;
  const stamp = `if (msg.payload === 0) context.set('first', Date.now());
else if (msg.payload === msg.total - 1) node.warn('plainflow-done ' + JSON.stringify({ first: context.get('first'), last: Date.now() }));
return msg;`;
  return [
    { id: 'pf-tab', type: 'tab', label: 'plain flow' },
    { id: 'pf-inject', z: 'pf-tab', type: 'inject', props: [{ p: 'payload' }, { p: 'total', v: String(passMessages), vt: 'num' }],
      payload: '', payloadType: 'date', repeat: '', once: false, wires: [['pf-source']] },
    { id: 'pf-source', z: 'pf-tab', type: 'function', func: source, outputs: 2, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [],
      wires: [['pf-change'], ['pf-source']] },
    { id: 'pf-change', z: 'pf-tab', type: 'change', rules: [{ t: 'set', p: 'topic', pt: 'msg', to: 'plain', tot: 'str' }], wires: [['pf-stamp']] },
    { id: 'pf-stamp', z: 'pf-tab', type: 'function', func: stamp, outputs: 1, timeout: 0, noerr: 0, initialize: '', finalize: '', libs: [],
      wires: [['pf-debug']] },
    { id: 'pf-debug', z: 'pf-tab', type: 'debug', active: true, tosidebar: false, console: false, tostatus: false, complete: 'payload',
      targetType: 'msg', wires: [] },
  ];
}

/** A DingTalk event that stays in flight: held for an hour by a core delay node. */
function inFlightTab(app) {
  return [
    { id: 'dt-tab', type: 'tab', label: 'dingtalk' },
    app,
    { id: 'dt-in', z: 'dt-tab', type: 'dingtalk-event-in', app: app.id, url: '/hub', wires: [['dt-hold', 'dt-seen']] },
    { id: 'dt-hold', z: 'dt-tab', type: 'delay', pauseType: 'delay', timeout: '1', timeoutUnits: 'hours', rate: '1', nbRateUnits: '1',
      rateUnits: 'second', randomFirst: '1', randomLast: '5', randomUnits: 'seconds', drop: false, allowrate: false, outputs: 1, wires: [['dt-released']] },
    { id: 'dt-released', z: 'dt-tab', type: 'function', func: `node.warn('${RELEASED}'); return null;`, outputs: 1, timeout: 0, noerr: 0,
      initialize: '', finalize: '', libs: [], wires: [[]] },
    // tells the bench that the event reached the flow (this branch completes at once; the delay holds)
    { id: 'dt-seen', z: 'dt-tab', type: 'function', func: `node.warn('${EMITTED}'); return null;`, outputs: 1, timeout: 0, noerr: 0,
      initialize: '', finalize: '', libs: [], wires: [[]] },
  ];
}

/** Sends one signed push and waits until the event has reached the flow. */
async function pushOneEvent(ctx, red) {
  const { DingTalkCipher } = require(path.join(ctx.packageDir, 'core', 'cipher'));
  const event = { ...JSON.parse(fs.readFileSync(FIXTURE, 'utf8')), eventId: `plainflow-${Date.now().toString(36)}`, EventTime: Date.now() };
  const push = makePush(JSON.stringify(event), { token: ctx.app.token, aesKey: ctx.app.aesKey, receiveId: ctx.app.appKey });
  const res = await fetch(`${red.nodeBase}/hub?${push.query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: push.body });
  const reply = await res.json();
  const cipher = new DingTalkCipher({ token: ctx.app.token, aesKey: ctx.app.aesKey, receiveId: ctx.app.appKey });
  const plaintext = res.status === 200 && cipher.open({ signature: reply.msg_signature, timestamp: reply.timeStamp, nonce: reply.nonce, encrypt: reply.encrypt },
    [ctx.app.appKey]).plaintext;
  if (plaintext !== 'success') throw new Error(`the push was answered ${res.status} ${JSON.stringify(reply)}`);
  await waitFor('the DingTalk event to reach the flow', () => red.output.includes(EMITTED), 10000);
}

/** Whether Node-RED in `red` has loaded the package (its node sets in the palette list). */
async function loaded(red) {
  const res = await fetch(`${red.adminBase}/nodes`, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET /nodes: ${res.status}`);
  const module = require('../package.json').name;
  return (await res.json()).some((set) => set.module === module && set.enabled !== false && !set.err);
}

/** One pass of the plain flow in `red`: seconds from first to last message, and the CPU it took. */
async function pass(red, timeoutMs, warmupMessages) {
  const from = red.output.length;
  const cpuBefore = cpuMs(red.child.pid);
  // a warm-up pass sends fewer messages: the inject's properties given with the request, as the editor does
  const start = warmupMessages ? { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ __user_inject_props__: [{ p: 'payload', v: '', vt: 'date' }, { p: 'total', v: String(warmupMessages), vt: 'num' }] }) }
    : { method: 'POST' };
  const res = await fetch(`${red.adminBase}/inject/pf-inject`, start);
  if (!res.ok) throw new Error(`inject failed: ${res.status} ${await res.text()}`);
  let done;
  try {
    await waitFor('the last message', () => (done = DONE.exec(red.output.slice(from))), timeoutMs);
  } catch (err) {
    err.message += `\nNode-RED output:\n${red.output.slice(-2000)}`;
    throw err;
  }
  const { first, last } = JSON.parse(done[1]);
  return { seconds: (last - first) / 1000, cpuMs: cpuMs(red.child.pid) - cpuBefore };
}

/**
 * The section. `startRed(ctx, flow, userDir)` starts a pinned Node-RED with `flow` deployed;
 * `appNode(ctx)` is the bench's dingtalk-app config node.
 */
async function plainflow(ctx, { config, startRed, appNode }) {
  const bare = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-bench-bare-'));
  fs.writeFileSync(path.join(bare, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }));
  const passMessages = config.messages / config.passes;
  const flow = plainTab({ passMessages, chunk: config.chunk });
  const reds = {};
  try {
    reds.without = await startRed(ctx, flow, bare);
    reds.installed = await startRed(ctx, flow);
    reds.inFlight = await startRed(ctx, [...flow, ...inFlightTab(appNode(ctx))]);
    for (const name of VARIANTS) {
      if ((await loaded(reds[name])) !== (name !== 'without')) throw new Error(`${name}: the package is ${name === 'without' ? '' : 'not '}loaded`);
    }
    await pushOneEvent(ctx, reds.inFlight);
    const timeoutMs = Math.max(passMessages, config.warmupMessages) / 5; // below 5,000 messages/s something is wrong
    // warm-up (the JIT, the heap): a shorter pass in each process
    for (const name of VARIANTS) await pass(reds[name], timeoutMs, config.warmupMessages);
    const runs = Object.fromEntries(VARIANTS.map((name) => [name, []]));
    for (let r = 0; r < config.passes; r++) {
      const order = [...VARIANTS.slice(r % VARIANTS.length), ...VARIANTS.slice(0, r % VARIANTS.length)];
      for (const name of order) runs[name].push(await pass(reds[name], timeoutMs));
    }
    const seconds = (name) => median(runs[name].map((x) => x.seconds));
    const cpu = (name) => median(runs[name].map((x) => x.cpuMs));
    const perVariant = (fn) => Object.fromEntries(VARIANTS.map((name) => [name, fn(name)]));
    // the delay node must still hold the event when the last round ends, or C measured nothing in flight
    const eventInFlight = !reds.inFlight.output.includes(RELEASED);
    return {
      installedRatio: round(seconds('installed') / seconds('without'), 2),
      inFlightRatio: round(seconds('inFlight') / seconds('without'), 2),
      // the median pass (passMessages messages, first to last)
      seconds: perVariant((name) => round(seconds(name), 3)),
      messagesPerSec: perVariant((name) => round(passMessages / seconds(name))),
      cpuUsPerMessage: perVariant((name) => round((cpu(name) * 1000) / passMessages, 2)),
      cpuRatio: { installed: round(cpu('installed') / cpu('without'), 2), inFlight: round(cpu('inFlight') / cpu('without'), 2) },
      passSeconds: perVariant((name) => runs[name].map((x) => round(x.seconds, 3))),
      peakRssMb: perVariant((name) => Math.round((peakRss(reds[name].child.pid) || 0) / 1048576)),
      messages: config.messages,
      passes: config.passes,
      passMessages,
      chunk: config.chunk,
      eventInFlight,
      ...(eventInFlight ? {} : { problems: ['the DingTalk event left the delay node before the last round ended'] }),
    };
  } finally {
    for (const red of Object.values(reds)) await red.stop();
    fs.rmSync(bare, { recursive: true, force: true });
  }
}

module.exports = { plainflow, plainTab, inFlightTab };
