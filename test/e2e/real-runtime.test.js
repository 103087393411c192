'use strict';
// A real Node-RED process, started the way users start it, with the packed tarball installed in its
// user directory the way the palette manager installs it. Pushes go over the network. This covers
// what the test helper cannot: the editor's body parser reading JSON bodies before RED.httpNode
// (default httpAdminRoot "/"), httpNodeRoot prefixes, i18n catalogues and the `files` whitelist.
const should = require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { APP, makePush, openReply } = require('../support/push');
const { readJson } = require('../support/shared');

const { ROOT, sleep, waitFor, installPackedModule, NodeRedProcess } = require('../support/node-red-process');
const { startSink } = require('../support/sink');
const { statuses } = require('../support/comms');


function hubFlow(sinkUrl) {
  return [
    { id: 'tab1', type: 'tab', label: 'hub' },
    { id: 'app1', type: 'dingtalk-app', name: 'e2e app', appKey: APP.appKey, corpId: APP.corpId, callbackStyle: 'event-subscription',
      credentials: { token: APP.token, aesKey: APP.aesKey, appSecret: 'e2e-app-secret-value' } },
    { id: 'in1', z: 'tab1', type: 'dingtalk-event-in', app: 'app1', url: '/dingtalk/events', x: 150, y: 80, wires: [['fn1']] },
    { id: 'fn1', z: 'tab1', type: 'function', x: 350, y: 80, wires: [['req1']],
      func: 'msg.payload = { topic: msg.topic, payload: msg.payload, dingtalk: msg.dingtalk };\nmsg.headers = { "content-type": "application/json" };\nreturn msg;' },
    { id: 'req1', z: 'tab1', type: 'http request', method: 'POST', ret: 'txt', url: sinkUrl, x: 550, y: 80, wires: [[]] },
  ];
}

async function pushOver(base, plaintext) {
  const p = makePush(plaintext);
  const res = await fetch(`${base}/dingtalk/events?${p.query}`, { method: 'POST', body: p.body, headers: { 'content-type': 'application/json' } });
  return { status: res.status, json: await res.json().catch(() => undefined) };
}

describe('real Node-RED process with the packed module (e2e)', function () {
  this.timeout(180000);
  let install;
  let sink;

  before(async function () {
    install = installPackedModule();
    // Which better-sqlite3 the user directory got (12.x compiled on Node 20, 13.x prebuilt on Node >= 22).
    console.log(`      Node.js ${process.version}, user directory: better-sqlite3 ${install.sqliteVersion}`);
    sink = await startSink();
  });

  after(async function () {
    if (sink) await sink.close();
    if (install) fs.rmSync(install.work, { recursive: true, force: true });
  });

  it('the tarball carries the built nodes, locales, icons and examples, and no sources or tests', function () {
    const files = execFileSync('tar', ['-tzf', install.tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    const has = (f) => files.includes(`package/${f}`);
    for (const f of ['package.json', 'nodes/dingtalk-app.js', 'nodes/dingtalk-app.html', 'nodes/dingtalk-event-in.js',
      'nodes/dingtalk-event-in.html', 'nodes/icons/dingtalk.svg', 'nodes/locales/en-US/dingtalk-event-in.json',
      'nodes/locales/zh-CN/dingtalk-event-in.json', 'nodes/locales/zh-CN/dingtalk-event-in.html', 'core/cipher.js',
      'examples/Receive DingTalk events.json', 'resources/dingtalk-editor.js', 'README.md', 'README.zh-CN.md', 'LICENSE',
      'nodes/dingtalk-event-center.js', 'nodes/dingtalk-event-center.html', 'nodes/locales/zh-CN/dingtalk-event-center.json']) {
      has(f).should.be.true(`${f} missing from the tarball`);
    }
    // every icon a node's editor file names is shipped beside it (the event center plugin has no node)
    const nodeHtml = new Set(Object.values(require('../../package.json')['node-red'].nodes).map((f) => path.basename(f, '.js') + '.html'));
    for (const html of fs.readdirSync(path.join(ROOT, 'nodes')).filter((f) => nodeHtml.has(f))) {
      const icon = /icon: '([^']+\.svg)'/.exec(fs.readFileSync(path.join(ROOT, 'nodes', html), 'utf8'));
      should.exist(icon, `${html} names no icon`);
      has(`nodes/icons/${icon[1]}`).should.be.true(`${icon[1]} (${html}) missing from the tarball`);
    }
    files.some((f) => f.startsWith('package/src/') || f.startsWith('package/test/')).should.be.false();
  });

  for (const variant of [
    { name: 'default settings (editor at "/", its body parser reads JSON first)', settings: {} },
    { name: 'httpNodeRoot "/api" and httpAdminRoot "/admin" (body arrives unread)', settings: { httpNodeRoot: '/api', httpAdminRoot: '/admin' } },
  ]) {
    describe(variant.name, function () {
      let red;
      before(async function () {
        red = new NodeRedProcess(install.userDir, variant.settings);
        await red.start();
        const nodes = await (await fetch(`${red.adminBase}/nodes`, { headers: { accept: 'application/json' } })).json();
        const ours = nodes.filter((n) => n.module === '@dingtalk-hub/node-red-dingtalk');
        ours.map((n) => n.types[0]).sort().should.eql(Object.keys(require('../../package.json')['node-red'].nodes).sort());
        ours.forEach((n) => { n.enabled.should.be.true(); should.not.exist(n.err); });
        // The event center's editor plugin is loaded too.
        const plugins = await (await fetch(`${red.adminBase}/plugins`, { headers: { accept: 'application/json' } })).json();
        const center = plugins.find((p) => p.id === '@dingtalk-hub/node-red-dingtalk/dingtalk-event-center');
        should.exist(center, 'the event center plugin is not loaded');
        center.enabled.should.be.true();
        should.not.exist(center.err);
        sink.received.length = 0;
        await red.deploy(hubFlow(sink.url));
        await waitFor('the receiver route', async () => (await fetch(`${red.nodeBase}/dingtalk/events`, { method: 'POST' })).status !== 404);
      });
      after(async function () {
        if (red) await red.stop();
      });

      it('answers a signed check_url with an encrypted success and logs it in words, not keys', async function () {
        const res = await pushOver(red.nodeBase, '{"EventType":"check_url"}');
        res.status.should.equal(200);
        openReply(res.json).should.equal('success');
        await waitFor('the check log line', () => red.output.includes("Answered DingTalk's check_url URL check"));
      });

      it('forwards pushed events through the flow, payload unchanged, once each', async function () {
        const bpms = readJson('fixtures', 'events', 'bpms_instance_change.json');
        const legacy = readJson('fixtures', 'events', 'legacy', 'user_add_org.json');
        for (const event of [bpms, legacy, bpms]) {
          const res = await pushOver(red.nodeBase, JSON.stringify(event));
          res.status.should.equal(200);
          openReply(res.json).should.equal('success');
        }
        await waitFor('two forwarded events', () => sink.received.length >= 2);
        await sleep(300); // bounded: a duplicate would arrive within this
        sink.received.length.should.equal(2);
        sink.received[0].payload.should.eql(bpms);
        sink.received[0].dingtalk.should.have.properties({ eventId: bpms.eventId, eventType: 'bpms_instance_change', source: 'http' });
        sink.received[1].payload.should.eql(legacy);
        sink.received[1].topic.should.equal('user_add_org');
      });

      it('rejects a bad signature (403) and an oversized body (413) with JSON errors', async function () {
        const p = makePush('{"EventType":"check_url"}');
        const bad = await fetch(`${red.nodeBase}/dingtalk/events?${p.query.replace(/msg_signature=\w+/, 'msg_signature=' + 'a'.repeat(40))}`,
          { method: 'POST', body: p.body, headers: { 'content-type': 'application/json' } });
        bad.status.should.equal(403);
        (await bad.json()).error.should.equal('bad-signature');
        const big = await fetch(`${red.nodeBase}/dingtalk/events?${p.query}`,
          { method: 'POST', body: JSON.stringify({ encrypt: 'A'.repeat(300 * 1024) }), headers: { 'content-type': 'application/json' } });
        big.status.should.equal(413);
        (await big.json()).error.should.equal('too-large');
        await waitFor('the rejection log line', () => red.output.includes('Rejected a push with HTTP 403 (bad-signature)'));
      });

      it('"Send test event" pushes a sample through the node\'s public path; the flow gets it with source "test"', async function () {
        sink.received.length = 0;
        const res = await fetch(`${red.adminBase}/dingtalk-event-in/in1/test`, {
          method: 'POST', body: JSON.stringify({ type: 'org_dept_create' }), headers: { 'content-type': 'application/json' },
        });
        const body = await res.json();
        res.status.should.equal(200, JSON.stringify(body));
        body.eventType.should.equal('org_dept_create');
        await waitFor('the test event at the sink', () => sink.received.length >= 1);
        sink.received[0].topic.should.equal('org_dept_create');
        sink.received[0].dingtalk.should.have.properties({ eventType: 'org_dept_create', source: 'test' });
      });

      it('keeps the secrets out of flows, the admin API and the log', async function () {
        const flows = await (await fetch(`${red.adminBase}/flows`)).text();
        const onDisk = fs.readFileSync(path.join(install.userDir, `flows-${red.port}.json`), 'utf8');
        for (const secret of [APP.token, APP.aesKey, 'e2e-app-secret-value']) {
          flows.should.not.containEql(secret);
          onDisk.should.not.containEql(secret);
          red.output.should.not.containEql(secret);
        }
      });

      if (!variant.settings.httpNodeRoot) {
        it('deploys every example flow as shipped, each receiver answering on its path', async function () {
          const dir = path.join(install.userDir, 'node_modules', '@dingtalk-hub', 'node-red-dingtalk', 'examples');
          const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
          files.length.should.be.aboveOrEqual(3);
          for (const file of files) {
            const flow = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
            const tabs = new Set(flow.filter((n) => n.type === 'tab').map((n) => n.id));
            // examples may leave out the tab (the editor adds one on import): add it as the editor would
            const missing = [...new Set(flow.map((n) => n.z).filter((z) => z && !tabs.has(z)))].map((id) => ({ id, type: 'tab', label: file }));
            await red.deploy([...missing, ...flow]);
            const deployed = await (await fetch(`${red.adminBase}/flows`)).json();
            deployed.length.should.equal(flow.length + missing.length, file);
            for (const receiver of flow.filter((n) => n.type === 'dingtalk-event-in')) {
              await waitFor(`${file} ${receiver.url}`, async () => (await fetch(`${red.nodeBase}${receiver.url}`, { method: 'POST' })).status !== 404);
            }
          }
          red.output.should.not.match(/\[error\].*(Error:|TypeError|failed to)/i);
          await red.deploy(hubFlow(sink.url));
        });
      }

      if (variant.settings.httpNodeRoot) {
        it('serves only under httpNodeRoot', async function () {
          const p = makePush('{"EventType":"check_url"}');
          const outside = await fetch(`http://127.0.0.1:${red.port}/dingtalk/events?${p.query}`, { method: 'POST', body: p.body, headers: { 'content-type': 'application/json' } });
          outside.status.should.equal(404);
        });
      }
    });
  }

  // The advice comes from the dingtalk-app catalogue while the receiver's own message wraps it:
  // only a real runtime, with its per-node-file message namespaces, shows that both resolve.
  for (const [lang, advice, answer] of [
    ['en-US', 'cannot be created, opened or written', 'Until it can, pushes are answered 503'],
    ['zh-CN', '无法创建、打开或写入', '推送会收到 503 应答'],
  ]) {
    it(`a store that cannot be opened: 503 to DingTalk and a log line (${lang}) naming the file and what to do`, async function () {
      const blocker = path.join(install.userDir, `not-a-folder-${lang}`);
      fs.writeFileSync(blocker, 'x');
      const storeFile = path.join(blocker, 'hub.sqlite');
      const red = new NodeRedProcess(install.userDir, { lang, dingtalkStorePath: storeFile });
      try {
        await red.start();
        await red.deploy(hubFlow(sink.url));
        await waitFor('the receiver route', async () => (await fetch(`${red.nodeBase}/dingtalk/events`, { method: 'POST' })).status !== 404);
        const res = await pushOver(red.nodeBase, JSON.stringify(readJson('fixtures', 'events', 'user_add_org.json')));
        res.status.should.equal(503);
        res.json.error.should.equal('store-unavailable');
        await waitFor('the advice in the log', () => red.output.includes(advice));
        const line = red.output.split('\n').find((l) => l.includes(advice));
        line.should.containEql(storeFile);
        line.should.containEql(answer);
        line.should.not.containEql('dingtalk-app.store'); // a key would mean the catalogue was not found
      } finally {
        await red.stop();
      }
    });
  }

  // better-sqlite3 compiled for another Node.js (a user directory built on Node 20, started on Node 24):
  // Node's error names both module versions on its later lines; the log line keeps them, says which
  // Node.js the module was built for, and gives the one command that fixes it; the statuses say so too.
  const required = process.versions.modules;
  const built = required === '115' ? '127' : '115';
  const builtNode = built === '115' ? 'Node.js 20' : 'Node.js 22';
  for (const [lang, advice, status] of [
    ['en-US', `its compiled module has NODE_MODULE_VERSION ${built} (${builtNode}), and this Node.js ${process.version} requires NODE_MODULE_VERSION ${required}`,
      'better-sqlite3 needs npm rebuild: see log'],
    ['zh-CN', `它的编译模块是 NODE_MODULE_VERSION ${built}（${builtNode}），而当前的 Node.js ${process.version} 需要 NODE_MODULE_VERSION ${required}`,
      'better-sqlite3 需要 npm rebuild：见日志'],
  ]) {
    it(`better-sqlite3 built for another Node.js: the log line (${lang}) names both module versions and the command that fixes it`, async function () {
      const red = new NodeRedProcess(install.userDir, { lang, dingtalkStorePath: path.join(install.userDir, `abi-${lang}.sqlite`) },
        { execArgv: ['--require', path.join(ROOT, 'test', 'support', 'abi-mismatch.js')] });
      try {
        await red.start();
        await red.deploy([
          ...hubFlow(sink.url).filter((n) => n.type !== 'function' && n.type !== 'http request').map((n) => (n.id === 'in1' ? { ...n, wires: [['oa1']] } : n)),
          { id: 'oa1', z: 'tab1', type: 'dingtalk-dispatch', url: sink.url, wires: [[], []] },
        ]);
        await waitFor('the receiver route', async () => (await fetch(`${red.nodeBase}/dingtalk/events`, { method: 'POST' })).status !== 404);
        const res = await pushOver(red.nodeBase, JSON.stringify(readJson('fixtures', 'events', 'user_add_org.json')));
        res.status.should.equal(503);
        res.json.error.should.equal('store-unavailable');
        await waitFor('the advice in the log, from both nodes', () => red.output.split(advice).length === 3);
        for (const line of red.output.split('\n').filter((l) => l.includes(advice))) {
          line.should.containEql(`\`cd ${fs.realpathSync(install.userDir)} && npm rebuild better-sqlite3\``);
          line.should.not.containEql('dingtalk-app.store');
        }
        (await statuses(red, ['in1', 'oa1'])).should.eql({ in1: status, oa1: status });
      } finally {
        await red.stop();
      }
    });
  }
});
