'use strict';
// The event center (the editor's "DingTalk" sidebar tab, nodes/dingtalk-event-center.html) in Debian's
// chromium against a real Node-RED with the packed module: two receivers take signed pushes over HTTP,
// three dispatch nodes deliver them to real local endpoints (one failing), and the tab is used as a user
// would, in an en-US and a zh-CN browser. With E2E_README_SHOTS=1 it writes docs/images/event-center.png.
const assert = require('node:assert');
const http = require('node:http');
const fs = require('node:fs');
require('should');
const { installPackedModule, NodeRedProcess, waitFor } = require('../support/node-red-process');
const { APP, makePush } = require('../support/push');
const { launchBrowser, messages, Editor, RAW_KEY } = require('./editor');
const { startFakeGateway } = require('../support/fake-gateway');

const EN = messages('en-US')['dingtalk-event-center'];
const ZH = messages('zh-CN')['dingtalk-event-center'];
const CJK = /[\u3400-\u9fff\uff00-\uffef]/;
const STREAM_APP = { appKey: 'dingeventcenterstream', appSecret: 'stream-secret-event-center' };

/** A local subscriber endpoint answering 200, or 500 while `up` is false; it records the event ids it got. */
function endpoint(up = true) {
  const state = { up, got: [] };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      if (state.up) state.got.push(JSON.parse(body).id);
      res.writeHead(state.up ? 200 : 500);
      res.end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(Object.assign(state, {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); },
  }))));
}

function noErrors(editor, mark, during) {
  const errors = editor.errorsSince(mark);
  assert.deepStrictEqual(errors, [], `browser errors during ${during}:\n${errors.join('\n')}`);
}

/** The texts the tab itself renders (headings, labels, buttons, hints, states, chart labels): not data. */
async function tabTexts(editor) {
  return editor.evaluate(() => $('.dingtalk-ec')
    .find('th, label, button, .dingtalk-ec-title, .dingtalk-ec-subtitle, .dingtalk-ec-hint, .dingtalk-ec-state, .dingtalk-ec-label, .dingtalk-ec-badge')
    .toArray().map((e) => e.textContent.trim()).filter((s) => s && !/^[\d\s.:/-]+$/.test(s)));
}

/**
 * The tab's title as the editor shows it: Node-RED 4's tab strip shows its label; Node-RED 5's tab bar has
 * icons only and names the tab (button tooltip, section banner) by its name.
 */
async function assertTabTitle(editor, texts) {
  const shown = await editor.evaluate(() => {
    const strip = $('#red-ui-tab-dingtalk-event-center .red-ui-tab-label');
    if (strip.length) return { label: strip.text() };
    return { name: $('button[data-tab-id="dingtalk-event-center"]').attr('aria-label') };
  });
  shown.should.eql('label' in shown ? { label: texts.tab.label } : { name: texts.tab.name });
}

describe('event center sidebar in Chromium, real Node-RED with the packed module (browser e2e)', function () {
  this.timeout(120000);
  let browser;
  let install;
  let red;
  let endpoints;
  let gateway;

  const push = async (path, event) => {
    const p = makePush(JSON.stringify(event));
    const res = await fetch(`${red.nodeBase}${path}?${p.query}`, { method: 'POST', body: p.body, headers: { 'content-type': 'application/json' } });
    res.status.should.equal(200, `push to ${path}: ${await res.text()}`);
  };

  /** The editor on the deployed flows (Editor.reset would deploy an empty flow), the tab shown. */
  async function openTab(editor) {
    await editor.page.goto(`${red.adminBase}/`);
    await editor.page.waitForFunction(() => window.RED && RED.workspaces && RED.workspaces.active() && !$('#red-ui-header-shade').is(':visible'));
    await editor.page.waitForFunction(() => RED.sidebar.containsTab('dingtalk-event-center'));
    await editor.evaluate(() => RED.sidebar.show('dingtalk-event-center')); // the tab may sit in the overflow menu
    await editor.page.locator('.dingtalk-ec-overview .dingtalk-ec-receivers').waitFor({ state: 'visible' });
  }

  async function searchAndOpen(editor, field, value, eventId) {
    const page = editor.page;
    await page.locator('.dingtalk-ec-form .dingtalk-ec-clear').click();
    await page.locator(`.dingtalk-ec-form .dingtalk-ec-${field}`).fill(value);
    await page.locator('.dingtalk-ec-form .dingtalk-ec-search').click();
    const link = page.locator('.dingtalk-ec-results .dingtalk-ec-event-link', { hasText: eventId });
    await link.waitFor({ state: 'visible' });
    (await page.locator('.dingtalk-ec-results tbody tr').count()).should.equal(1);
    await link.click();
    await page.locator('.dingtalk-ec-deliveries').waitFor({ state: 'visible' });
  }

  /** subscriber name -> state, as the detail's delivery table shows them. */
  const deliveryStates = (editor) => editor.evaluate(() => Object.fromEntries($('.dingtalk-ec-deliveries tbody tr').toArray()
    .map((tr) => [$(tr).children().eq(0).text(), $(tr).find('.dingtalk-ec-state').attr('data-state')])));

  before(async function () {
    this.timeout(300000);
    browser = await launchBrowser();
    install = installPackedModule();
    gateway = await startFakeGateway({ [STREAM_APP.appKey]: STREAM_APP.appSecret });
    red = new NodeRedProcess(install.userDir, { dingtalkAppApiUrl: gateway.url });
    await red.start();
    endpoints = { hr: await endpoint(), oa: await endpoint(), erp: await endpoint(false) };
    const subscribers = ['hr', 'oa', 'erp'];
    await red.deploy([
      { id: 'ec0tab', type: 'tab', label: 'Event center' },
      { id: 'ec0app', type: 'dingtalk-app', name: 'HR app', appKey: APP.appKey, corpId: APP.corpId, callbackStyle: 'event-subscription',
        credentials: { token: APP.token, aesKey: APP.aesKey } },
      { id: 'ec0in0a', z: 'ec0tab', type: 'dingtalk-event-in', name: 'Receiver A', app: 'ec0app', url: '/dt-a', x: 150, y: 80, wires: [subscribers.map((s) => `ec0${s}`)] },
      { id: 'ec0in0b', z: 'ec0tab', type: 'dingtalk-event-in', name: 'Receiver B', app: 'ec0app', url: '/dt-b', x: 150, y: 200, wires: [subscribers.map((s) => `ec0${s}`)] },
      ...subscribers.map((s, i) => ({ id: `ec0${s}`, z: 'ec0tab', type: 'dingtalk-dispatch', name: `${s.toUpperCase()} system`, url: endpoints[s].url,
        method: 'POST', format: 'json', retrySchedule: '0', x: 450, y: 60 + i * 80, wires: [[], []] })),
      // An app in Stream mode: the overview lists it as a receiver of its own, marked "Stream".
      { id: 'ec0sapp', type: 'dingtalk-app', name: 'Stream app', appKey: STREAM_APP.appKey, callbackStyle: 'event-subscription',
        credentials: { appSecret: STREAM_APP.appSecret } },
      { id: 'ec0stream', z: 'ec0tab', type: 'dingtalk-stream-in', app: 'ec0sapp', x: 150, y: 320, wires: [[]] },
    ]);
    await waitFor('the receivers to listen', async () => (await fetch(`${red.nodeBase}/dt-a`, { method: 'GET' })).status === 405
      && (await fetch(`${red.nodeBase}/dt-b`, { method: 'GET' })).status === 405);
    await push('/dt-a', { EventType: 'bpms_instance_change', eventId: 'ev-approval-1', CorpId: APP.corpId, processInstanceId: 'pi-2026-77', staffId: 'staff-1', title: '王芳提交的报销申请' });
    await push('/dt-b', { EventType: 'user_add_org', eventId: 'ev-user-1', CorpId: APP.corpId, userId: ['zhang-san'] });
    await waitFor('hr and oa to get both events', async () => endpoints.hr.got.length === 2 && endpoints.oa.got.length === 2);
    // The Stream node's "send test event": through the app's Stream intake, counted as its receiver's.
    const test = await fetch(`${red.adminBase}/dingtalk-stream-in/ec0stream/test`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    test.status.should.equal(200, await test.text());
  });

  afterEach(async function () {
    if (this.currentTest.state !== 'failed') return;
    const title = this.currentTest.title.replace(/\W+/g, '-').slice(0, 80);
    for (const editor of Editor.opened) await editor.shot(`FAILED-${title}`).catch(() => {});
  });

  after(async function () {
    if (browser) await browser.close();
    if (red) await red.stop();
    if (gateway) await gateway.close();
    for (const e of Object.values(endpoints ?? {})) await e.close();
    if (install) fs.rmSync(install.work, { recursive: true, force: true });
  });

  it('en-US: the tab opens with the overview and chart; an event id shows its payload and three subscriber states; replay delivers', async function () {
    const en = await Editor.open(browser, red, 'en-US');
    const mark = en.errorMark();
    await openTab(en);
    const page = en.page;
    await assertTabTitle(en, EN);
    // The overview: both receivers counted one event, the Stream app its test event; ERP has two dead letters.
    const receivers = await en.evaluate(() => $('.dingtalk-ec-receivers tbody tr').toArray().map((tr) => $(tr).children().slice(0, 2).toArray().map((td) => td.textContent)));
    receivers.should.eql([['Receiver A', '1'], ['Receiver B', '1'], [`Stream app ${EN.overview.stream}`, '1']]);
    await page.waitForFunction(() => $('.dingtalk-ec-dispatchers tbody tr').toArray()
      .some((tr) => $(tr).children().eq(0).text() === 'ERP system' && $(tr).children().eq(5).text() === '2'));
    // The chart: sixty bars, the last minutes holding the two events.
    (await page.locator('svg.dingtalk-ec-chart rect.dingtalk-ec-bar').count()).should.equal(60);
    (await en.evaluate(() => $('svg.dingtalk-ec-chart rect.dingtalk-ec-bar').toArray().filter((r) => Number(r.getAttribute('height')) > 0).length)).should.be.within(1, 2);

    await searchAndOpen(en, 'eventId', 'ev-approval-1', 'ev-approval-1');
    const payload = JSON.parse(await page.locator('.dingtalk-ec-payload').innerText());
    payload.should.have.properties({ eventId: 'ev-approval-1', processInstanceId: 'pi-2026-77', title: '王芳提交的报销申请' });
    (await page.locator('.dingtalk-ec-detail').innerText()).should.containEql(EN.source.http);
    (await deliveryStates(en)).should.eql({ 'ERP system': 'dead', 'HR system': 'delivered', 'OA system': 'delivered' });
    (await page.locator('.dingtalk-ec-deliveries .dingtalk-ec-state-dead').innerText()).should.equal(EN.state.dead);
    if (process.env.E2E_README_SHOTS) await en.widenSidebar(320);
    await en.readmeShot('event-center');
    await en.shot('event-center');

    // Replay the dead delivery from the sidebar, the endpoint being up again.
    endpoints.erp.up = true;
    // Through the event center's own route (permission dingtalk.write), naming the subscriber and the delivery.
    const replayRequest = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname.endsWith('/dingtalk-event-center/replay'));
    await page.locator('.dingtalk-ec-deliveries .dingtalk-ec-replay').click();
    const replayBody = JSON.parse((await replayRequest).postData());
    replayBody.subscriber.should.equal('ec0erp');
    replayBody.id.should.be.a.Number();
    const notice = page.locator('.red-ui-notification').last();
    await notice.waitFor({ state: 'visible' });
    (await notice.innerText()).should.containEql('ERP system');
    (await notice.getAttribute('class')).should.match(/success/);
    await waitFor('ERP to get the replayed event', async () => endpoints.erp.got.includes('ev-approval-1'));
    await page.waitForFunction(() => $('.dingtalk-ec-deliveries .dingtalk-ec-state-dead').length === 0 && $('.dingtalk-ec-deliveries .dingtalk-ec-state-delivered').length === 3);
    endpoints.erp.got.should.eql(['ev-approval-1']);

    const texts = await tabTexts(en);
    texts.length.should.be.above(20);
    texts.filter((s) => CJK.test(s) || RAW_KEY.test(s)).should.eql([]);
    noErrors(en, mark, 'the en-US event center');
    await en.close();
  });

  it('zh-CN: the tab is in Chinese; a user id finds its event; replaying all dead letters of a subscriber delivers', async function () {
    const zh = await Editor.open(browser, red, 'zh-CN');
    const mark = zh.errorMark();
    await openTab(zh);
    const page = zh.page;
    (await zh.evaluate(() => RED.i18n.lang())).should.equal('zh-CN');
    await assertTabTitle(zh, ZH);
    (await page.locator('.dingtalk-ec-overview .dingtalk-ec-title').first().innerText()).should.equal(ZH.overview.chart);
    (await page.locator('.dingtalk-ec-receivers .dingtalk-ec-badge').innerText()).should.equal(ZH.overview.stream);
    (await page.locator('svg.dingtalk-ec-chart rect.dingtalk-ec-bar').count()).should.equal(60);

    await searchAndOpen(zh, 'userId', 'zhang-san', 'ev-user-1');
    JSON.parse(await page.locator('.dingtalk-ec-payload').innerText()).userId.should.eql(['zhang-san']);
    (await deliveryStates(zh)).should.eql({ 'ERP system': 'dead', 'HR system': 'delivered', 'OA system': 'delivered' });
    (await page.locator('.dingtalk-ec-deliveries .dingtalk-ec-state-delivered').first().innerText()).should.equal(ZH.state.delivered);
    (await page.locator('.dingtalk-ec-detail').innerText()).should.containEql(ZH.source.http);

    // "Replay dead letters" of ERP in the overview: its one remaining dead letter is delivered.
    const erpRow = page.locator('.dingtalk-ec-dispatchers tbody tr', { hasText: 'ERP system' });
    // "Export dead letters" first: the event center's export route (permission dingtalk.read), one letter.
    const exported = page.waitForResponse((r) => new URL(r.url()).pathname.endsWith('/dingtalk-event-center/dead-letters/ec0erp'));
    await erpRow.locator('.dingtalk-ec-export').click();
    const letters = JSON.parse(await (await exported).text());
    letters.map((l) => l.eventId).should.eql(['ev-user-1']);
    const replayRequest = page.waitForRequest((r) => r.method() === 'POST' && new URL(r.url()).pathname.endsWith('/dingtalk-event-center/replay'));
    await erpRow.locator('.dingtalk-ec-replay-dead').click();
    JSON.parse((await replayRequest).postData()).should.eql({ subscriber: 'ec0erp' });
    const notice = page.locator('.red-ui-notification').last();
    await notice.waitFor({ state: 'visible' });
    const said = await notice.innerText();
    said.should.match(CJK);
    said.should.containEql('ERP system');
    await waitFor('ERP to get the replayed event', async () => endpoints.erp.got.includes('ev-user-1'));
    await page.locator('.dingtalk-ec-refresh').click();
    await page.waitForFunction(() => $('.dingtalk-ec-deliveries .dingtalk-ec-state-delivered').length === 3);

    // Every text the tab renders is Chinese (and no key is left untranslated).
    const texts = await tabTexts(zh);
    texts.length.should.be.above(20);
    texts.filter((s) => !CJK.test(s) || RAW_KEY.test(s)).should.eql([]);
    await zh.shot('event-center');
    noErrors(zh, mark, 'the zh-CN event center');
    await zh.close();
  });
});
