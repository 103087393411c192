'use strict';
// Values from a push must not be able to forge log lines: a real push through a real receiver and
// dispatch node, whose subscriber fails, ends as a dead letter whose warning is logged. Rendered with
// the real en-US catalogue, as Node-RED (which does not escape parameters) renders it.
require('should');
const http = require('node:http');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const eventInModule = require('../../nodes/dingtalk-event-in.js').default;
const dispatchModule = require('../../nodes/dingtalk-dispatch.js').default;
const switchModule = require('../../nodes/dingtalk-event-switch.js').default;
const { APP, makePush } = require('../support/push');
const { freshStore, callsOn } = require('../support/runtime');
const { render } = require('../support/i18n');
const { until } = require('../support/fake-gateway');

helper.init(require.resolve('node-red'));
const { hooks } = require('../support/hooks');

describe('log lines with values from a push', function () {
  let subscriber;
  let server;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(async () => {
    for (const s of [server, subscriber]) {
      if (s) { s.closeAllConnections(); await new Promise((r) => s.close(r)); }
    }
    server = subscriber = undefined;
    await helper.unload();
  });

  async function loadHub(extra) {
    freshStore();
    let httpNode;
    const flow = [
      { id: 'tab', type: 'tab' },
      { id: 'app', type: 'dingtalk-app', appKey: APP.appKey, callbackStyle: 'event-subscription' },
      { id: 'in', z: 'tab', type: 'dingtalk-event-in', app: 'app', url: '/dt', wires: [extra.map((n) => n.id)] },
      ...extra,
    ];
    await helper.load([
      (RED) => { RED._ = render; RED.hooks = hooks; return appModule(RED); },
      (RED) => { httpNode = RED.httpNode; return eventInModule(RED); },
      dispatchModule, switchModule,
    ], flow, { app: { token: APP.token, aesKey: APP.aesKey } });
    server = http.createServer(httpNode);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${server.address().port}`;
  }

  const pushTo = async (base, event) => {
    const p = makePush(JSON.stringify(event));
    const res = await fetch(`${base}/dt?${p.query}`, { method: 'POST', body: p.body, headers: { 'content-type': 'application/json' } });
    return res.status;
  };

  it('a dead letter whose eventId holds \\n and \\r is logged on one line, with the id escaped', async function () {
    subscriber = http.createServer((req, res) => { req.resume(); res.writeHead(500); res.end(); });
    await new Promise((r) => subscriber.listen(0, '127.0.0.1', r));
    const base = await loadHub([
      { id: 'erp', z: 'tab', type: 'dingtalk-dispatch', url: `http://127.0.0.1:${subscriber.address().port}/hook`, retrySchedule: '0', wires: [[], []] },
    ]);
    const forged = 'evt-1\n[warn] [dingtalk-dispatch:erp] all good\r';
    (await pushTo(base, { EventType: 'bpms_instance_change', eventId: forged, CorpId: 'ding1' })).should.equal(200);
    const dispatch = helper.getNode('erp');
    const dead = () => callsOn(dispatch, 'warn').map((a) => String(a[0])).filter((w) => w.includes('dead letter'));
    await until('the dead-letter warning', () => dead().length === 1, 8000);
    const line = dead()[0];
    line.should.not.match(/[\n\r\u2028\u2029]/);
    line.should.startWith('Event evt-1\\n[warn] [dingtalk-dispatch:erp] all good\\r is a dead letter');
  });

  it('an unknown event type with a line break is logged escaped by the switch', async function () {
    const base = await loadHub([{ id: 'sw', z: 'tab', type: 'dingtalk-event-switch', rules: [{ t: 'type', v: 'user_add_org' }], wires: [[]] }]);
    (await pushTo(base, { EventType: 'no_such_type\n[error] forged', eventId: 'e-2', CorpId: 'ding1' })).should.equal(200);
    const sw = helper.getNode('sw');
    const unknown = () => callsOn(sw, 'warn').map((a) => String(a[0])).filter((w) => w.includes('not in the catalogue'));
    await until('the unknown-type warning', () => unknown().length === 1, 8000);
    unknown()[0].should.not.match(/[\n\r]/);
    unknown()[0].should.containEql('"no_such_type\\n[error] forged"');
  });

  it('a Content-Encoding header with C1 controls (8-bit CSI, NEL) is escaped in the rejection warning', async function () {
    const base = await loadHub([]);
    const p = makePush(JSON.stringify({ EventType: 'user_add_org', eventId: 'e-3' }));
    const url = new URL(`${base}/dt?${p.query}`);
    // Header bytes 0x80-0xff are allowed on the wire (obs-text) and arrive as latin1 characters.
    const encoding = 'br\x9b2J\x85[error] forged';
    const status = await new Promise((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, method: 'POST', path: url.pathname + url.search,
        headers: { 'content-type': 'application/json', 'content-encoding': encoding } }, (res) => { res.resume(); resolve(res.statusCode); });
      req.on('error', reject);
      req.end(p.body);
    });
    status.should.equal(400);
    const rejected = () => callsOn(helper.getNode('in'), 'warn').map((a) => String(a[0])).filter((w) => w.includes('Content-Encoding'));
    await until('the rejection warning', () => rejected().length === 1, 8000);
    rejected()[0].should.not.match(/[\u0080-\u009f]/);
    // (lower-cased when read; Node's client sends the string as UTF-8, so each C1 control comes with an Â)
    rejected()[0].should.containEql('\\u009b2j').and.containEql('\\u0085[error] forged" cannot');
  });
});
