'use strict';
// settings.httpNodeMiddleware in a real Node-RED process: core `http in` runs it per route, and so must
// the receivers, or a user's IP allow-list or audit log never sees DingTalk's pushes. The settings file
// holds real functions: one records every call to a file, one refuses a header with 403 (an
// allow-list), one fails with next(err) on request.
require('should');
const fs = require('node:fs');
const path = require('node:path');
const { APP, makePush, openReply } = require('../support/push');
const { sleep, waitFor, installPackedModule, NodeRedProcess } = require('../support/node-red-process');
const { startSink } = require('../support/sink');


const flow = (sinkUrl) => [
  { id: 'tab1', type: 'tab', label: 'middleware' },
  { id: 'app1', type: 'dingtalk-app', appKey: APP.appKey, corpId: APP.corpId, callbackStyle: 'event-subscription',
    credentials: { token: APP.token, aesKey: APP.aesKey } },
  { id: 'in1', z: 'tab1', type: 'dingtalk-event-in', app: 'app1', url: '/dingtalk/guarded', wires: [['fn1']] },
  { id: 'fn1', z: 'tab1', type: 'function', wires: [['req1']],
    func: 'msg.payload = { eventId: msg.dingtalk.eventId };\nmsg.headers = { "content-type": "application/json" };\nreturn msg;' },
  { id: 'req1', z: 'tab1', type: 'http request', method: 'POST', ret: 'txt', url: sinkUrl, wires: [[]] },
  // core http in on another path, for comparison: the same middleware applies to it
  { id: 'core1', z: 'tab1', type: 'http in', url: '/core/hook', method: 'post', wires: [['resp1']] },
  { id: 'resp1', z: 'tab1', type: 'http response', statusCode: '200', wires: [] },
];

/** The settings' middleware, as JavaScript source: records to `recordFile`, then allow-list, then failures. */
const middlewareCode = (recordFile) => `{
  httpNodeMiddleware: [
    function record(req, res, next) {
      require('fs').appendFileSync(${JSON.stringify(recordFile)}, JSON.stringify({ method: req.method, path: req.path }) + '\\n');
      next();
    },
    [function allowList(req, res, next) {
      if (req.headers['x-client'] === 'blocked') { res.status(403).send('refused by the allow-list'); return; }
      next();
    }],
    function failing(req, res, next) {
      const fail = req.headers['x-fail'];
      if (!fail) { next(); return; }
      const err = new Error('audit store down\\nFORGED log line');
      if (fail !== 'plain') err.status = Number(fail);
      next(err);
    },
  ],
}`;

describe('httpNodeMiddleware in front of dingtalk-event-in, real Node-RED process (e2e)', function () {
  this.timeout(180000);
  let install;
  let sink;
  let red;
  let recordFile;
  const recorded = () => (fs.existsSync(recordFile) ? fs.readFileSync(recordFile, 'utf8').split('\n').filter(Boolean).map(JSON.parse) : []);

  const push = async (eventId, headers = {}) => {
    const p = makePush(JSON.stringify({ EventType: 'user_add_org', eventId }));
    const res = await fetch(`${red.nodeBase}/dingtalk/guarded?${p.query}`, {
      method: 'POST', body: p.body, headers: { 'content-type': 'application/json', ...headers },
    });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, text, json };
  };

  before(async function () {
    install = installPackedModule();
    sink = await startSink();
    recordFile = path.join(install.work, 'middleware-calls.jsonl');
    red = new NodeRedProcess(install.userDir, {}, { settingsCode: middlewareCode(recordFile) });
    await red.start();
    await red.deploy(flow(sink.url));
    // the probe has no signature: the middleware records it and the receiver answers 4xx, not 404
    await waitFor('the receiver route', async () => (await fetch(`${red.nodeBase}/dingtalk/guarded`, { method: 'POST' })).status !== 404);
    fs.rmSync(recordFile, { force: true });
  });

  after(async function () {
    if (red) await red.stop();
    if (sink) await sink.close();
    if (install) fs.rmSync(install.work, { recursive: true, force: true });
  });

  it('runs for every push to the receiver, which then answers as usual', async function () {
    const res = await push('passes');
    res.status.should.equal(200, res.text);
    openReply(res.json).should.equal('success');
    recorded().should.eql([{ method: 'POST', path: '/dingtalk/guarded' }]);
    await waitFor('the event in the flow', () => sink.received.some((m) => m.eventId === 'passes'));
  });

  it('a middleware that answers itself (403) ends the request: the push is neither acknowledged nor emitted', async function () {
    const before = recorded().length;
    const res = await push('blocked', { 'x-client': 'blocked' });
    res.status.should.equal(403);
    res.text.should.equal('refused by the allow-list');
    recorded().length.should.equal(before + 1);
    // the same push from an allowed client goes through; the blocked one never reached the flow
    (await push('allowed')).status.should.equal(200);
    await waitFor('the allowed event', () => sink.received.some((m) => m.eventId === 'allowed'));
    await sleep(200);
    sink.received.map((m) => m.eventId).should.not.containEql('blocked');
  });

  it('next(err) answers the error status (or 500) without a stack trace, and logs one escaped line', async function () {
    const plain = await push('fails', { 'x-fail': 'plain' });
    plain.status.should.equal(500);
    plain.json.should.eql({ error: 'middleware', message: 'Internal Server Error' });
    const unauthorised = await push('fails-401', { 'x-fail': '401' });
    unauthorised.status.should.equal(401);
    unauthorised.json.should.eql({ error: 'middleware', message: 'Unauthorized' });
    await waitFor('the log line', () => red.output.includes('httpNodeMiddleware failed a push with HTTP 500: audit store down\\nFORGED log line'));
    red.output.should.not.match(/^FORGED log line/m);
    red.output.should.not.containEql('at failing');
    await sleep(200);
    sink.received.map((m) => m.eventId).should.not.containEql('fails');
  });

  it('applies to core http in the same way, and not to paths no route serves', async function () {
    const before = recorded().length;
    (await fetch(`${red.nodeBase}/core/hook`, { method: 'POST', headers: { 'x-client': 'blocked' } })).status.should.equal(403);
    (await fetch(`${red.nodeBase}/nothing/here`, { method: 'POST' })).status.should.equal(404);
    recorded().slice(before).map((r) => r.path).should.eql(['/core/hook']);
  });
});
