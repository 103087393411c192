'use strict';
// Statuses and notifications in the editor's language (issue 15, item 5), and the test buttons of
// dingtalk-dispatch and dingtalk-stream-in (item 6), in Chromium against a real Node-RED whose runtime
// speaks en-US. After pushes to two receivers (one rejected) and deliveries to two subscribers (one
// failing), a zh-CN editor must show none of the package's English words on the canvas or in its
// notifications, and an en-US editor no Chinese. The words come from nodes/locales/en-US/*.json.
const assert = require('node:assert');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { installPackedModule, NodeRedProcess } = require('../support/node-red-process');
const { startFakeGateway } = require('../support/fake-gateway');
const { APP, makePush } = require('../support/push');
const { ROOT, launchBrowser, Editor, RAW_KEY } = require('./editor');

const CJK = /[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]/;
const WORD = /[A-Za-z][A-Za-z_-]*[A-Za-z]/g;

/** Every string of a catalogue (nested objects flattened). */
function strings(value) {
  if (typeof value === 'string') return [value];
  return value && typeof value === 'object' ? Object.values(value).flatMap(strings) : [];
}

/** Words of texts: placeholders (__name__) and HTML tags left out. */
function words(texts) {
  const out = new Set();
  for (const text of texts) {
    for (const w of text.replace(/__\w+__/g, ' ').replace(/<[^>]+>/g, ' ').match(WORD) ?? []) out.add(w.toLowerCase());
  }
  return out;
}

function catalogueTexts(lang) {
  const dir = path.join(ROOT, 'nodes', 'locales', lang);
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).flatMap((f) => strings(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))));
}

/**
 * The package's English words: those of the en-US catalogue that its zh-CN catalogue does not use itself
 * (names and protocol words such as DingTalk, HTTP, AppKey or LATER stay as they are in Chinese), and no
 * identifiers (event types such as bpms_instance_change).
 */
const ZH_WORDS = words(catalogueTexts('zh-CN'));
const ENGLISH = [...words(catalogueTexts('en-US'))].filter((w) => !ZH_WORDS.has(w) && !w.includes('_') && w.length >= 3);

function englishIn(text) {
  return (text.match(WORD) ?? []).map((w) => w.toLowerCase()).filter((w) => ENGLISH.includes(w));
}

const ID = {
  app: 'e2e0lang0app0001', in1: 'e2e0lang0in000001', in2: 'e2e0lang0in000002', sw: 'e2e0lang0sw000001',
  ok: 'e2e0lang0ok000001', bad: 'e2e0lang0bad00001', stream: 'e2e0lang0str00001',
};
const OURS = [ID.in1, ID.in2, ID.sw, ID.ok, ID.bad, ID.stream];
const STREAM_SECRET = 'stream-secret-lang';

describe('statuses and notifications in the editor\'s language; test buttons (browser e2e)', function () {
  this.timeout(180000);
  let browser;
  let install;
  let red;
  let gateway;
  let sink;
  const editors = {};

  function flow(hook) {
    return [
      { id: 'e2e0lang0tab00001', type: 'tab', label: 'language' },
      { id: ID.app, type: 'dingtalk-app', name: 'app', appKey: APP.appKey, callbackStyle: 'event-subscription',
        credentials: { token: APP.token, aesKey: APP.aesKey, appSecret: STREAM_SECRET } },
      { id: ID.in1, z: 'e2e0lang0tab00001', type: 'dingtalk-event-in', app: ID.app, url: '/dt1', x: 150, y: 80, wires: [[ID.sw]] },
      { id: ID.in2, z: 'e2e0lang0tab00001', type: 'dingtalk-event-in', app: ID.app, url: '/dt2', x: 150, y: 180, wires: [[ID.sw]] },
      { id: ID.sw, z: 'e2e0lang0tab00001', type: 'dingtalk-event-switch', checkall: 'false', otherwise: false, outputs: 1,
        rules: [{ t: 'group', v: 'contact' }], x: 380, y: 130, wires: [[ID.ok, ID.bad]] },
      { id: ID.ok, z: 'e2e0lang0tab00001', type: 'dingtalk-dispatch', url: `${hook}/ok`, x: 620, y: 80, wires: [[], []] },
      { id: ID.bad, z: 'e2e0lang0tab00001', type: 'dingtalk-dispatch', url: `${hook}/fail`, retrySchedule: '0', x: 620, y: 180, wires: [[], []] },
      { id: ID.stream, z: 'e2e0lang0tab00001', type: 'dingtalk-stream-in', app: ID.app, x: 150, y: 280, wires: [[]] },
    ];
  }

  before(async function () {
    this.timeout(300000);
    browser = await launchBrowser();
    gateway = await startFakeGateway({ [APP.appKey]: STREAM_SECRET });
    sink = http.createServer((req, res) => { req.resume(); req.on('end', () => { res.writeHead(req.url === '/fail' ? 500 : 204); res.end(); }); });
    await new Promise((r) => sink.listen(0, '127.0.0.1', r));
    install = installPackedModule();
    red = new NodeRedProcess(install.userDir, { dingtalkAppApiUrl: gateway.url });
    await red.start();
    await red.deploy(flow(`http://127.0.0.1:${sink.address().port}`));
    // Pushes to both receivers, one of them forged (rejected); the events go to both subscribers. The deploy
    // answers before every route is up: a 404 never reached a receiver (nothing counted), so it is tried again.
    const push = async (dt, event, forge = false) => {
      for (const end = Date.now() + 30000; ;) {
        const p = makePush(JSON.stringify(event));
        const query = forge ? p.query.replace(/msg_signature=[^&]+/, 'msg_signature=forged') : p.query;
        const { status } = await fetch(`${red.nodeBase}/${dt}?${query}`, { method: 'POST', body: p.body, headers: { 'content-type': 'application/json' } });
        if (status !== 404 || Date.now() > end) return status;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    assert.strictEqual(await push('dt1', { EventType: 'user_add_org', eventId: 'lang-1', CorpId: 'ding1', userId: ['u1'] }), 200);
    assert.strictEqual(await push('dt2', { EventType: 'user_modify_org', eventId: 'lang-2', CorpId: 'ding1', userId: ['u2'] }), 200);
    assert.strictEqual(await push('dt1', { EventType: 'user_add_org', eventId: 'lang-3', CorpId: 'ding1', userId: ['u3'] }, true), 403);
    for (const lang of ['zh-CN', 'en-US']) {
      editors[lang] = await Editor.open(browser, red, lang);
      await openLoaded(editors[lang]);
    }
  });

  after(async function () {
    if (browser) await browser.close();
    if (red) await red.stop();
    if (gateway) await gateway.close();
    if (sink) { sink.closeAllConnections(); await new Promise((r) => sink.close(r)); }
    if (install) fs.rmSync(install.work, { recursive: true, force: true });
  });

  afterEach(async function () {
    if (this.currentTest.state !== 'failed') return;
    const title = this.currentTest.title.replace(/\W+/g, '-').slice(0, 80);
    for (const editor of Object.values(editors)) await editor.shot(`FAILED-${title}`).catch(() => {});
  });

  /** Opens the editor on the deployed flows (no reset: the statuses of this run are what is checked). */
  async function openLoaded(editor) {
    await editor.page.goto(`${red.adminBase}/`);
    await editor.page.waitForFunction((id) => window.RED && RED.nodes && RED.nodes.node(id) && !$('#red-ui-header-shade').is(':visible'), ID.in1, { timeout: 60000 });
  }

  /** The status texts of our nodes on the canvas, once every one is drawn and settled on the final counts. */
  async function statuses(editor, ready) {
    await editor.page.waitForFunction(([ids, test]) => {
      const texts = ids.map((id) => $(`g.red-ui-flow-node-group[id="${id}"] .red-ui-flow-node-status-label`).text());
      // eslint-disable-next-line no-new-func
      return texts.every(Boolean) && new Function('texts', `return ${test}`)(texts);
    }, [OURS, ready], { timeout: 30000 }).catch(async (e) => {
      const now = await editor.evaluate((ids) => ids.map((id) => $(`g.red-ui-flow-node-group[id="${id}"] .red-ui-flow-node-status-label`).text()), OURS);
      throw new Error(`${e.message}; statuses now: ${JSON.stringify(now)}`);
    });
    return editor.evaluate((ids) => Object.fromEntries(ids.map((id) => [id, $(`g.red-ui-flow-node-group[id="${id}"] .red-ui-flow-node-status-label`).text()])), OURS);
  }

  /** Clicks a node's button and returns the notification that answers it: its class and text. */
  async function pressTest(editor, id) {
    const button = editor.nodeOnCanvas(id).locator('.red-ui-flow-node-button');
    await button.waitFor({ state: 'visible' });
    await editor.evaluate(() => $('.red-ui-notification').attr('data-seen', '1'));
    await button.locator('.red-ui-flow-node-button-button').click();
    await editor.page.waitForFunction(() => $('.red-ui-notification:not([data-seen])').length > 0);
    return editor.evaluate(() => {
      const $n = $('.red-ui-notification:not([data-seen])').last();
      return { kind: /success/.test($n.attr('class')) ? 'success' : /error/.test($n.attr('class')) ? 'error' : $n.attr('class'), text: $n.text().trim() };
    });
  }

  it('the list of English words is a real one', function () {
    // guards the check below against an empty or wrong list
    for (const w of ['queued', 'delivered', 'dead', 'rejected', 'connected', 'failing', 'delivery', 'stored']) assert.ok(ENGLISH.includes(w), `${w} missing`);
    for (const w of ['http', 'dingtalk', 'later']) assert.ok(!ENGLISH.includes(w), `${w} should be left out`);
  });

  // The receivers count 1 in and one of them 1 rejected; one subscriber delivered both events, the other failing.
  const settled = {
    'zh-CN': 'texts[0].includes("拒绝 1") && texts[1].includes("收 1") && texts[3].includes("已送达 2") && /死信 2|失败/.test(texts[4]) && texts[5].includes("已连接")',
    'en-US': 'texts[0].includes("1 rejected") && texts[1].includes("1 in") && texts[3].includes("delivered 2") && /dead 2|failing/.test(texts[4]) && texts[5].includes("connected")',
  };

  for (const lang of ['zh-CN', 'en-US']) {
    it(`${lang}: the canvas statuses are in the editor's language, also after a reload (retained statuses)`, async function () {
      const editor = editors[lang];
      const mark = editor.errorMark();
      for (let round = 0; round < 2; round++) {
        if (round === 1) await openLoaded(editor); // a fresh connection: the statuses come again, retained
        const texts = await statuses(editor, settled[lang]);
        for (const [id, text] of Object.entries(texts)) {
          assert.ok(!RAW_KEY.test(text), `${id}: raw key in "${text}"`);
          if (lang === 'zh-CN') {
            assert.deepStrictEqual(englishIn(text), [], `${id}: English in the zh-CN status "${text}"`);
            assert.ok(CJK.test(text), `${id}: no Chinese in "${text}"`);
          } else {
            assert.ok(!CJK.test(text), `${id}: Chinese in the en-US status "${text}"`);
          }
        }
        await editor.shot(`statuses-${round}`);
      }
      assert.deepStrictEqual(editor.errorsSince(mark), []);
    });

    it(`${lang}: the test buttons of dingtalk-dispatch (one subscriber failing) and dingtalk-stream-in answer in the editor's language`, async function () {
      const editor = editors[lang];
      const mark = editor.errorMark();
      const shown = [];
      const ok = await pressTest(editor, ID.ok);
      assert.strictEqual(ok.kind, 'success', ok.text);
      shown.push(ok);
      const bad = await pressTest(editor, ID.bad);
      assert.strictEqual(bad.kind, 'error', bad.text);
      assert.match(bad.text, /500/);
      shown.push(bad);
      const stream = await pressTest(editor, ID.stream);
      assert.strictEqual(stream.kind, 'success', stream.text);
      assert.match(stream.text, /bpms_instance_change/);
      shown.push(stream);
      for (const { text } of shown) {
        assert.ok(!RAW_KEY.test(text), `raw key in "${text}"`);
        if (lang === 'zh-CN') {
          assert.deepStrictEqual(englishIn(text), [], `English in the zh-CN notification "${text}"`);
          assert.ok(CJK.test(text), `no Chinese in "${text}"`);
        } else {
          assert.ok(!CJK.test(text), `Chinese in the en-US notification "${text}"`);
        }
      }
      await editor.shot('test-buttons');
      // The browser logs the failing subscriber's answer (502 from the test route, as meant); nothing else.
      const expected = (line) => line.includes(`/dingtalk-dispatch/${ID.bad}/test`) && line.includes('502');
      assert.deepStrictEqual(editor.errorsSince(mark).filter((line) => !expected(line)), []);
    });
  }
});
