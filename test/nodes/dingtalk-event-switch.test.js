'use strict';
const should = require('should');
const fs = require('node:fs');
const path = require('node:path');
const helper = require('node-red-node-test-helper');
const switchModule = require('../../nodes/dingtalk-event-switch.js').default;
const { describeEvent, streamData } = require('../../core/events');
const { GROUPS } = require('../../core/event-catalogue');
const { SHARED } = require('../support/shared');
const { callsOn, settle } = require('../support/runtime');
const { waitFor } = require('../support/wait');
const { withCatalogue } = require('../support/i18n');

helper.init(require.resolve('node-red'));

const DIR = path.join(SHARED, 'fixtures', 'events');
const GROUP_IDS = GROUPS.map((g) => g.id);

/** The message a receiver emits for a fixture file (payload shapes: console, legacy, stream, variants). */
function messageFor(sub, file) {
  const text = fs.readFileSync(path.join(DIR, sub, file), 'utf8');
  const json = JSON.parse(text);
  if (sub === 'stream') {
    const info = describeEvent(json, 'stream');
    return { topic: info.eventType, payload: streamData(json), dingtalk: info };
  }
  const info = describeEvent(json, 'http', { plaintext: text });
  return { topic: info.eventType, payload: json, dingtalk: info };
}
const fixtureFiles = (sub) => fs.readdirSync(path.join(DIR, sub)).filter((f) => f.endsWith('.json') && f !== 'index.json').sort();
const groupIndex = { ...Object.fromEntries(GROUP_IDS.map((g, i) => [g, i])) };

/**
 * Loads one switch wired to N helper nodes o0..oN-1 and returns the arrays they collect.
 * catalogue: texts rendered from the en-US catalogue (test/support/i18n) instead of the bare keys.
 */
async function loadSwitch(config, { catalogue = false } = {}) {
  const outputs = (config.rules || []).length + (config.otherwise ? 1 : 0);
  const flow = [
    { id: 'f', type: 'tab' },
    { id: 'sw', type: 'dingtalk-event-switch', z: 'f', name: 'router', outputs, wires: Array.from({ length: outputs }, (_, i) => [`o${i}`]), ...config },
    ...Array.from({ length: outputs }, (_, i) => ({ id: `o${i}`, z: 'f', type: 'helper' })),
  ];
  await helper.load(catalogue ? withCatalogue(switchModule) : switchModule, flow);
  const arrivals = []; // [output, msg] in the order the outputs received them, across outputs
  const received = Array.from({ length: outputs }, (_, i) => {
    const list = [];
    helper.getNode(`o${i}`).on('input', (msg) => { list.push(msg); arrivals.push([i, msg]); });
    return list;
  });
  return { node: helper.getNode('sw'), received, arrivals };
}

const groupRules = () => GROUP_IDS.map((g) => ({ t: 'group', v: g }));

describe('dingtalk-event-switch', function () {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => helper.unload());

  for (const sub of ['', 'legacy', 'stream', 'variants']) {
    it(`routes every ${sub || 'console'} fixture to its group's output`, async function () {
      const { node, received } = await loadSwitch({ rules: groupRules(), checkall: 'false', otherwise: true });
      const expected = [];
      for (const f of fixtureFiles(sub)) {
        const msg = messageFor(sub, f);
        node.receive(msg);
        expected.push([f, msg.dingtalk.eventType]);
      }
      await waitFor(() => received.reduce((n, l) => n + l.length, 0) >= expected.length, { what: 'every fixture routed' });
      const seen = received.flatMap((list, i) => list.map((m) => [m.dingtalk.eventType, i]));
      seen.length.should.equal(expected.length);
      received[GROUP_IDS.length].length.should.equal(0, 'nothing known goes to otherwise');
      for (const [type, i] of seen) {
        const { groupOf } = require('../../core/events');
        i.should.equal(groupIndex[groupOf(type)], type);
      }
    });
  }

  it('finds the type from msg.dingtalk, else msg.topic, else payload.EventType', async function () {
    const { node, received } = await loadSwitch({ rules: [{ t: 'type', v: ['user_add_org'] }], checkall: 'false', otherwise: true });
    node.receive({ dingtalk: { eventType: 'user_add_org' }, payload: {} });
    node.receive({ topic: 'user_add_org', payload: {} });
    node.receive({ payload: { EventType: 'user_add_org' } });
    node.receive({ topic: 'other', payload: { EventType: 'user_add_org' } });
    await waitFor(() => received[0].length >= 3 && received[1].length >= 1, { what: 'four messages routed' });
    received[0].length.should.equal(3);
    received[1].length.should.equal(1);
  });

  it('approval rules: kind, type, result and process code, on the variants', async function () {
    const rules = [
      { t: 'approval', v: { kind: 'instance', type: ['finish'], result: ['agree'] } },
      { t: 'approval', v: { kind: 'instance', type: ['finish'], result: ['refuse'] } },
      { t: 'approval', v: { kind: 'instance', type: ['terminate'] } },
      { t: 'approval', v: { kind: 'task', result: ['redirect'] } },
      { t: 'approval', v: { kind: 'task', type: ['cancel', 'start'] } },
      { t: 'approval', v: { processCode: ['PROC-NOT-THIS-ONE'] } },
    ];
    const { node, received } = await loadSwitch({ rules, checkall: 'true', otherwise: true });
    const cases = [
      ['', 'bpms_instance_change.json', [0]],
      ['variants', 'bpms_instance_change.refuse.json', [1]],
      ['variants', 'bpms_instance_change.terminate.json', [2]],
      ['variants', 'bpms_instance_change.start.json', [6]],
      ['variants', 'bpms_task_change.redirect.json', [3]],
      ['variants', 'bpms_task_change.cancel.json', [4]],
      ['variants', 'bpms_task_change.start.json', [4]],
      ['variants', 'bpms_task_change.refuse.json', [6]],
      ['legacy', 'bpms_instance_change.json', [0]],
      ['stream', 'bpms_instance_change.json', [0]],
      ['', 'user_add_org.json', [6]],
    ];
    for (const [sub, f] of cases) node.receive(messageFor(sub, f));
    await waitFor(() => received.reduce((n, l) => n + l.length, 0) >= cases.length, { what: 'every case routed' });
    const where = (eventId) => received.map((list, i) => (list.some((m) => m.dingtalk.eventId === eventId) ? i : -1)).filter((i) => i >= 0);
    for (const [sub, f, outs] of cases) where(messageFor(sub, f).dingtalk.eventId).should.eql(outs, `${sub}/${f}`);

    // a matching process code
    await helper.unload();
    const code = messageFor('', 'bpms_instance_change.json').payload.processCode;
    const second = await loadSwitch({ rules: [{ t: 'approval', v: { processCode: [code] } }], checkall: 'false', otherwise: false });
    second.node.receive(messageFor('variants', 'bpms_task_change.cancel.json'));
    second.node.receive(messageFor('', 'user_add_org.json'));
    await waitFor(() => second.received[0].length >= 1, { what: 'the matching process code routed' });
    await settle(); // bounded: user_add_org must not follow
    second.received[0].length.should.equal(1);
  });

  it('JSONata rule, keeping message order through asynchronous evaluation', async function () {
    const rules = [{ t: 'jsonata', v: '$contains(payload.title, "报销")' }, { t: 'group', v: 'approval' }];
    const { node, received, arrivals } = await loadSwitch({ rules, checkall: 'false', otherwise: true });
    const bpms = messageFor('', 'bpms_instance_change.json'); // 王芳提交的报销申请
    const start = messageFor('variants', 'bpms_instance_change.start.json');
    // an approval that is not an expense claim: the JSONata rule does not match, the group rule does
    const leave = { ...start, payload: { ...start.payload, title: '李雷提交的请假申请' } };
    for (let i = 0; i < 50; i++) node.receive({ ...(i % 2 ? leave : bpms), seq: i });
    node.receive(messageFor('', 'user_add_org.json'));
    await waitFor(() => received[2].length === 1, { what: 'the last message on otherwise' });
    const title = (m) => m.payload.title;
    const seqs = (list) => list.map((m) => m.seq);
    // every message on its output (even seq = 报销 on output 1, odd = the leave request on output 2) ...
    seqs(received[0]).should.eql(Array.from({ length: 25 }, (_, i) => 2 * i));
    seqs(received[1]).should.eql(Array.from({ length: 25 }, (_, i) => 2 * i + 1));
    received[0].every((m) => title(m).includes('报销')).should.be.true();
    received[1].some((m) => title(m).includes('报销')).should.be.false();
    // ... and in arrival order across outputs: 0..49 alternating, then the one on otherwise
    arrivals.map(([out, m]) => [out, m.seq]).should.eql([
      ...Array.from({ length: 50 }, (_, i) => [i % 2, i]),
      [2, undefined],
    ]);
    received[2][0].dingtalk.eventType.should.equal('user_add_org');
  });

  it('"stop at first match" versus "check all rules"', async function () {
    const rules = [{ t: 'group', v: 'approval' }, { t: 'type', v: ['bpms_instance_change'] }, { t: 'jsonata', v: 'true' }];
    for (const [checkall, expected] of [['false', [1, 0, 0, 0]], ['true', [1, 1, 1, 0]]]) {
      const { node, received } = await loadSwitch({ rules, checkall, otherwise: true });
      node.receive(messageFor('', 'bpms_instance_change.json'));
      await waitFor(() => received.reduce((n, l) => n + l.length, 0) >= expected.reduce((a, b) => a + b), { what: 'the message on its outputs' });
      received.map((l) => l.length).should.eql(expected, `checkall ${checkall}`);
      await helper.unload();
    }
  });

  it('sends an unknown event type to otherwise and reports it once', async function () {
    const { node, received } = await loadSwitch({ rules: groupRules(), checkall: 'false', otherwise: true });
    const unknown = { topic: 'brand_new_event', payload: { EventType: 'brand_new_event', eventId: 'x1' }, dingtalk: { eventType: 'brand_new_event', eventId: 'x1' } };
    node.receive(unknown);
    node.receive({ ...unknown, dingtalk: { ...unknown.dingtalk, eventId: 'x2' } });
    await waitFor(() => received[GROUP_IDS.length].length >= 2, { what: 'both unknown events on otherwise' });
    received[GROUP_IDS.length].map((m) => m.dingtalk.eventId).should.eql(['x1', 'x2']);
    const warnings = callsOn(node, 'warn').map((a) => a[0]).filter((w) => w === 'dingtalk-event-switch.errors.unknown-type');
    warnings.length.should.equal(1);
  });

  it('an unknown type still matches a type rule naming it', async function () {
    const { node, received } = await loadSwitch({ rules: [{ t: 'type', v: ['brand_new_event'] }], checkall: 'false', otherwise: true });
    node.receive({ topic: 'brand_new_event', payload: {} });
    await waitFor(() => received[0].length >= 1, { what: 'the unknown type routed' });
    received[0].length.should.equal(1);
  });

  it('reports invalid rules and bad JSONata, which never match', async function () {
    const rules = [{ t: 'nonsense' }, { t: 'type', v: [] }, { t: 'jsonata', v: 'payload.(' }, { t: 'group', v: 'approval' }];
    const { node, received } = await loadSwitch({ rules, checkall: 'true', otherwise: true });
    const errors = callsOn(node, 'error').map((a) => a[0]);
    errors.filter((e) => e === 'dingtalk-event-switch.errors.bad-rule').length.should.equal(2);
    errors.filter((e) => e === 'dingtalk-event-switch.errors.jsonata').length.should.equal(1);
    node.receive(messageFor('', 'bpms_task_change.json'));
    await waitFor(() => received[3].length >= 1, { what: 'the approval routed' });
    received.map((l) => l.length).should.eql([0, 0, 0, 1, 0]);
  });

  it('drops unmatched messages when otherwise is off, and counts per output in the status', async function () {
    const { node, received } = await loadSwitch({ rules: [{ t: 'group', v: 'chat' }], checkall: 'false', otherwise: false }, { catalogue: true });
    node.receive(messageFor('', 'chat_quit.json'));
    node.receive(messageFor('', 'user_add_org.json'));
    node.receive(messageFor('', 'chat_quit.json'));
    const lastStatus = () => callsOn(node, 'status').pop()?.[0].text;
    await waitFor(() => lastStatus() === 'out: 2', { what: 'status "out: 2"' })
      .catch((e) => { throw new Error(`${e.message}; last status: ${lastStatus()}`); });
    received[0].length.should.equal(2);
  });

  it('counts every output in the status, otherwise included', async function () {
    const { node } = await loadSwitch({ rules: [{ t: 'group', v: 'chat' }], checkall: 'false', otherwise: true }, { catalogue: true });
    for (const f of ['user_add_org.json', 'chat_quit.json', 'user_add_org.json']) node.receive(messageFor('', f));
    const lastStatus = () => callsOn(node, 'status').pop()?.[0].text;
    await waitFor(() => lastStatus() === 'out: 1 · 2', { what: 'status "out: 1 · 2"' })
      .catch((e) => { throw new Error(`${e.message}; last status: ${lastStatus()}`); });
  });

  it('serves the catalogue to the editor', async function () {
    await loadSwitch({ rules: [], otherwise: true });
    const res = await helper.request().get('/dingtalk-event-switch/catalogue').expect(200);
    res.body.groups.map((g) => g.id).should.eql(GROUP_IDS);
    res.body.events.find((e) => e.type === 'bpms_task_change').should.have.properties({ group: 'approval' });
    res.body.events.find((e) => e.type === 'bpms_task_change').label['zh-CN'].should.equal('审批任务开始、结束、转交');
  });
});
