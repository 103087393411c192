'use strict';
// Node-RED's admin app (editor and admin API) puts a JSON body parser on every request under
// httpAdminRoot and is mounted before RED.httpNode. With the default httpAdminRoot "/" it reads every
// push first: it inflates gzip, parses up to 5 MB, answers malformed JSON itself (HTML 400) and waits
// for a body that never ends. Real Node-RED processes with the packed module: with "/" the receivers
// warn once and refuse what the parser inflated beyond their limit; with "/admin" they answer a gzip
// bomb, malformed JSON and an endless body themselves, quickly, with their own JSON errors.
require('should');
const fs = require('node:fs');
const http = require('node:http');
const zlib = require('node:zlib');
const { APP, makePush } = require('../support/push');
const { waitFor, installPackedModule, NodeRedProcess } = require('../support/node-red-process');
const { statuses } = require('../support/comms');

const WARNING = 'shares the HTTP root with the DingTalk receivers';
const STATUS_NOTE = 'editor parser in front (httpAdminRoot)';

/** 5 KB on the wire, a 4.9 MB JSON object once inflated. */
const bomb = zlib.gzipSync(JSON.stringify({ encrypt: 'A'.repeat(4.9 * 1024 * 1024) }), { level: 9 });

function flow() {
  return [
    { id: 'tab1', type: 'tab', label: 'hub' },
    { id: 'app1', type: 'dingtalk-app', name: 'e2e app', appKey: APP.appKey, corpId: APP.corpId, callbackStyle: 'event-subscription',
      credentials: { token: APP.token, aesKey: APP.aesKey, appSecret: 'e2e-app-secret-value' } },
    { id: 'inA', z: 'tab1', type: 'dingtalk-event-in', app: 'app1', url: '/dingtalk/a', x: 150, y: 80, wires: [[]] },
    { id: 'inB', z: 'tab1', type: 'dingtalk-event-in', app: 'app1', url: '/dingtalk/b', x: 150, y: 160, wires: [[]] },
  ];
}

/** A POST with full control over headers and body pacing; resolves { status, type, text, ms, closed }. */
function post(url, { body, headers = {}, drip } = {}) {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        const answer = { status: res.statusCode, type: res.headers['content-type'], connection: res.headers.connection, text, ms: Date.now() - started };
        if (!drip) return resolve(answer);
        // The server must also hang up, or the endless body would keep its socket busy.
        const hungUp = setTimeout(() => resolve({ ...answer, closed: false }), 3000);
        const onClose = () => { clearTimeout(hungUp); resolve({ ...answer, closed: true }); };
        if (req.socket.destroyed) onClose();
        else req.socket.once('close', onClose);
      });
    });
    req.on('error', reject);
    if (drip) {
      // A chunked body that never ends: a byte every 100 ms for as long as the socket stays open.
      req.write('{"encrypt":"');
      const timer = setInterval(() => { if (!req.destroyed) req.write('A'); }, 100);
      req.on('close', () => clearInterval(timer));
      setTimeout(() => { clearInterval(timer); req.destroy(new Error('no answer within 20 s')); }, 20000);
    } else {
      req.end(body);
    }
  });
}

const occurrences = (text, part) => text.split(part).length - 1;

describe('the editor\'s body parser in front of the receivers (real Node-RED, e2e)', function () {
  this.timeout(180000);
  let install;

  before(function () {
    install = installPackedModule();
  });
  after(function () {
    if (install) fs.rmSync(install.work, { recursive: true, force: true });
  });

  async function startWith(settings) {
    const red = new NodeRedProcess(install.userDir, settings);
    await red.start();
    await red.deploy(flow());
    for (const p of ['a', 'b']) {
      await waitFor(`the receiver on /dingtalk/${p}`, async () => (await fetch(`${red.nodeBase}/dingtalk/${p}`, { method: 'POST' })).status !== 404);
    }
    return red;
  }
  const signedUrl = (red, path = '/dingtalk/a') => `${red.nodeBase}${path}?${makePush('{"EventType":"check_url"}').query}`;

  describe('default settings: httpAdminRoot "/"', function () {
    let red;
    before(async function () { red = await startWith({}); });
    after(async function () { if (red) await red.stop(); });

    it('warns once per runtime in the log, however many receivers and deploys, and in every receiver\'s status', async function () {
      await waitFor('the warning', () => red.output.includes(WARNING));
      await red.deploy(flow()); // a second full deploy: the runtime has already said it
      await waitFor('the redeployed receiver', async () => (await fetch(`${red.nodeBase}/dingtalk/b`, { method: 'POST' })).status !== 404);
      occurrences(red.output, WARNING).should.equal(1, red.output);
      red.output.should.containEql('httpAdminRoot: "/admin"');
      const texts = await statuses(red, ['inA', 'inB']);
      texts.inA.should.containEql(STATUS_NOTE);
      texts.inB.should.containEql(STATUS_NOTE);
    });

    it('refuses a 5 KB gzip body the editor inflated to 4.9 MB: measured after parsing, not by its Content-Length', async function () {
      const res = await post(signedUrl(red), { body: bomb, headers: { 'content-encoding': 'gzip', 'content-length': bomb.length } });
      res.status.should.equal(413, res.text);
      JSON.parse(res.text).error.should.equal('too-large');
    });
  });

  describe('httpAdminRoot "/admin"', function () {
    let red;
    before(async function () { red = await startWith({ httpAdminRoot: '/admin' }); });
    after(async function () { if (red) await red.stop(); });

    it('does not warn, and the status has no note', async function () {
      const texts = await statuses(red, ['inA', 'inB']);
      texts.inA.should.not.containEql(STATUS_NOTE);
      texts.inA.should.startWith('/dingtalk/a');
      red.output.should.not.containEql(WARNING);
    });

    it('answers a gzip bomb 413 in milliseconds, without inflating it', async function () {
      const rssBefore = red.rss();
      const res = await post(signedUrl(red), { body: bomb, headers: { 'content-encoding': 'gzip', 'content-length': bomb.length } });
      res.status.should.equal(413, res.text);
      JSON.parse(res.text).error.should.equal('too-large');
      res.ms.should.be.below(2000);
      (red.rss() - rssBefore).should.be.below(64 * 1024 * 1024);
    });

    it('answers malformed JSON with its own JSON 400 and one log line', async function () {
      const line = 'Rejected a push with HTTP 400 (bad-request): body is not JSON';
      const before = occurrences(red.output, line); // the start-up probes for the routes were empty bodies
      const res = await post(signedUrl(red, '/dingtalk/b'), { body: '{"encrypt": "abc",,,' });
      res.status.should.equal(400);
      res.type.should.startWith('application/json');
      JSON.parse(res.text).error.should.equal('bad-request');
      res.ms.should.be.below(2000);
      await waitFor('the rejection line', () => occurrences(red.output, line) > before);
      occurrences(red.output, line).should.equal(before + 1);
    });

    it('answers a body that never ends 408 after the 10 s body timeout and closes the connection', async function () {
      const res = await post(signedUrl(red), { drip: true });
      res.status.should.equal(408, res.text);
      JSON.parse(res.text).error.should.equal('body-timeout');
      res.connection.should.equal('close');
      res.closed.should.be.true();
      res.ms.should.be.within(9500, 13000);
      await waitFor('the timeout line', () => red.output.includes('Rejected a push with HTTP 408 (body-timeout): the request body did not arrive in full within 10 s'));
    });
  });
});
