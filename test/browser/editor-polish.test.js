'use strict';
// Editor polish of issue 16, in Chromium against a real Node-RED (httpNodeRoot /hooks) with the packed
// module, in en-US and zh-CN: the dingtalk-app dialog's copy buttons and "for the DingTalk console" block
// (what they copy works for a real signed push), a saved credential revealed after a deploy reads
// "saved (hidden)" and never "__PWRD__" (and stays saved), and the palette search finds the nodes by
// "dingtalk event" (en-US) and "钉钉" (zh-CN) with no label on three lines.
const assert = require('node:assert');
const should = require('should');
const fs = require('node:fs');
const { installPackedModule, NodeRedProcess, waitFor } = require('../support/node-red-process');
const { nodeTypes } = require('../support/node-types');
const { APP, makePush, openReply } = require('../support/push');
const { ROOT, launchBrowser, messages, Editor } = require('./editor');

const { palette: PALETTE } = nodeTypes(ROOT);
const OURS = PALETTE.map((p) => p.type);
const PLACEHOLDER = '__PWRD__';
const TAB = 'e2e0polish0tab001';
const ROOT_PATH = '/hooks';

function noErrors(editor, mark, during) {
  const errors = editor.errorsSince(mark);
  assert.deepStrictEqual(errors, [], `browser errors during ${during}:\n${errors.join('\n')}`);
}

/** One app and one receiver on `path` (credentials typed in the editor later). */
function flow(ids, path) {
  return [
    { id: TAB, type: 'tab', label: 'polish' },
    { id: ids.app, type: 'dingtalk-app', name: 'polish app', appKey: APP.appKey, callbackStyle: 'event-subscription' },
    { id: ids.in, z: TAB, type: 'dingtalk-event-in', app: ids.app, url: path, x: 200, y: 100, wires: [[]] },
  ];
}

describe('editor polish: credentials, copy buttons, console block, palette search (browser e2e)', function () {
  this.timeout(180000);
  let browser;
  let install;
  let red;

  before(async function () {
    this.timeout(300000);
    browser = await launchBrowser();
    install = installPackedModule();
    red = new NodeRedProcess(install.userDir, { httpNodeRoot: ROOT_PATH });
    await red.start();
  });

  afterEach(async function () {
    if (this.currentTest.state !== 'failed') return;
    const title = this.currentTest.title.replace(/\W+/g, '-').slice(0, 80);
    for (const editor of Editor.opened) await editor.shot(`FAILED-${title}`).catch(() => {});
  });

  after(async function () {
    for (const editor of [...Editor.opened]) await editor.close().catch(() => {});
    if (browser) await browser.close();
    if (red) await red.stop();
    if (install) fs.rmSync(install.work, { recursive: true, force: true });
  });

  /** A page on the editor with `flows` deployed and the clipboard readable. */
  async function openEditor(lang, flows) {
    const editor = await Editor.open(browser, red, lang);
    await editor.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: red.adminBase });
    await editor.reset();
    if (flows) {
      await red.deploy(flows);
      await editor.page.reload();
      await editor.page.waitForFunction(() => window.RED && RED.nodes && RED.workspaces.active() && RED.nodes.node('e2e0polish0in0001') !== null);
    }
    return editor;
  }

  /** Opens the dingtalk-app dialog as the config sidebar does. */
  async function openAppDialog(editor, appId) {
    await editor.evaluate((id) => RED.editor.editConfig('', 'dingtalk-app', id), appId);
    await editor.page.locator('#node-config-dialog-ok').waitFor({ state: 'visible' });
    await editor.page.waitForFunction(() => !$('.red-ui-tray').last().is(':animated'));
  }

  /**
   * Clicks a copy button; returns what the page copied (the text selected when the copy event fired) and
   * what the clipboard then holds.
   */
  async function copy(editor, selector) {
    await editor.evaluate(() => {
      window.e2eCopied = null;
      document.addEventListener('copy', () => {
        const el = document.activeElement;
        window.e2eCopied = el && typeof el.value === 'string' ? el.value.slice(el.selectionStart, el.selectionEnd) : String(document.getSelection());
      }, { once: true });
    });
    await editor.page.locator(selector).click();
    const copied = await editor.evaluate(() => window.e2eCopied);
    const clipboard = await editor.evaluate(() => navigator.clipboard.readText());
    return { copied, clipboard };
  }

  for (const lang of ['en-US', 'zh-CN']) {
    const T = messages(lang)['dingtalk-app'];

    it(`${lang}: token and aesKey copied from the dialog and its console block work for a real push; after a deploy a revealed credential reads "${T.tip['saved-hidden']}" and stays saved`, async function () {
      const ids = { app: 'e2e0polish0app001', in: 'e2e0polish0in0001' };
      const path = `/polish/${lang.toLowerCase()}`;
      const editor = await openEditor(lang, flow(ids, path));
      const page = editor.page;
      const mark = editor.errorMark();

      // The receivers using the app, as the app's and the callback admin's dialogs list them.
      (await editor.evaluate((id) => DingTalkEditor.receiverPaths(id), ids.app)).should.eql([path]);

      // A new app: generate, then copy what the DingTalk console needs.
      await openAppDialog(editor, ids.app);
      const block = page.locator('#node-config-dingtalk-app-console');
      (await block.locator('.dingtalk-app-console-title').innerText()).should.containEql(T.console.title);
      await page.locator('#node-config-dingtalk-app-generate').click();
      const token = await page.locator('#node-config-input-token').inputValue();
      const aesKey = await page.locator('#node-config-input-aesKey').inputValue();
      token.should.match(/^[A-Za-z0-9]{32}$/);
      aesKey.should.match(/^[A-Za-z0-9]{43}$/);
      // Revealed by Generate: the block shows the values, ready to paste.
      (await page.locator('#node-config-dingtalk-app-console-token').innerText()).should.equal(token);
      (await page.locator('#node-config-dingtalk-app-console-aesKey').innerText()).should.equal(aesKey);

      should(await copy(editor, '#node-config-dingtalk-app-copy-token')).eql({ copied: token, clipboard: token });
      should(await copy(editor, '#node-config-dingtalk-app-console-copy-aesKey')).eql({ copied: aesKey, clipboard: aesKey });
      const url = `${red.nodeBase}${path}`; // this browser's origin + httpNodeRoot + the receiver's path
      (await block.locator('.dingtalk-app-console-url code').allInnerTexts()).should.eql([url]);
      should(await copy(editor, '#node-config-dingtalk-app-console-copy-url-0')).eql({ copied: url, clipboard: url });
      await editor.shot('console-block');
      await editor.pressDone('#node-config-dialog-ok');
      await editor.deploy();

      // What was copied is what DingTalk needs: a push signed with it is answered with success.
      const creds = { token, aesKey, receiveId: APP.appKey };
      await waitFor(`${url} with the new credentials`, async () => {
        const p = makePush('{"EventType":"check_url"}', creds);
        const res = await fetch(`${url}?${p.query}`, { method: 'POST', body: p.body, headers: { 'content-type': 'application/json' } });
        return res.status === 200 && openReply(await res.json(), creds) === 'success';
      });

      // After the deploy the editor holds no secret: the dialog gets the placeholder, shown as "saved (hidden)".
      await page.reload();
      await page.waitForFunction((id) => window.RED && RED.nodes && RED.nodes.node(id), ids.app);
      await openAppDialog(editor, ids.app);
      const input = page.locator('#node-config-input-token');
      (await input.inputValue()).should.equal(PLACEHOLDER); // as Node-RED fills a saved password input
      (await input.getAttribute('type')).should.equal('password');
      (await page.locator('#node-config-dingtalk-app-console-token').innerText()).should.equal(T.console['saved-hidden']);
      (await page.locator('#node-config-dingtalk-app-copy-token').isDisabled()).should.be.true();
      (await page.locator('#node-config-dingtalk-app-console-copy-token').getAttribute('title')).should.equal(T.tip['copy-saved']);

      await page.locator('#node-config-dingtalk-app-toggle-token').click();
      (await input.getAttribute('type')).should.equal('text');
      (await input.inputValue()).should.equal('');
      (await input.getAttribute('placeholder')).should.equal(T.tip['saved-hidden']);
      (await page.locator('#node-config-dingtalk-app-token-message').innerText()).should.equal(T.tip.saved);
      // Nothing readable says __PWRD__: the tray's text and the values of its text inputs (a password input shows dots).
      const shown = await editor.evaluate(() => $('.red-ui-tray').last().get(0).innerText + $('.red-ui-tray').last().find('input[type=text]:visible').map((i, el) => el.value).get().join(' '));
      shown.should.not.containEql(PLACEHOLDER);
      await editor.shot('saved-hidden');

      // Hidden again, it is the placeholder again; revealed and left alone, Done keeps the saved value.
      await page.locator('#node-config-dingtalk-app-toggle-token').click();
      (await input.inputValue()).should.equal(PLACEHOLDER);
      await page.locator('#node-config-dingtalk-app-toggle-token').click();
      await page.locator('#node-config-dingtalk-app-toggle-aesKey').click();
      (await page.locator('#node-config-input-aesKey').getAttribute('placeholder')).should.equal(T.tip['saved-hidden']);
      await editor.pressDone('#node-config-dialog-ok');
      const state = await editor.evaluate((id) => {
        const app = RED.nodes.node(id);
        return { dirty: RED.nodes.dirty(), changed: Boolean(app.changed), token: app.credentials.has_token, aesKey: app.credentials.has_aesKey };
      }, ids.app);
      should(state).eql({ dirty: false, changed: false, token: true, aesKey: true });
      noErrors(editor, mark, 'the dingtalk-app dialog');
      await editor.close();
    });

    it(`${lang}: the palette search finds the nodes (${lang === 'zh-CN' ? '钉钉' : 'dingtalk event'}); no label takes three lines`, async function () {
      const editor = await openEditor(lang);
      const mark = editor.errorMark();
      const labels = messages(lang);
      // Each label on one or two lines, as the palette lays it out (<br> between lines).
      const lines = await editor.evaluate((types) => Object.fromEntries(types.map((t) =>
        [t, $(`.red-ui-palette-node[data-palette-type="${t}"] .red-ui-palette-label`).html().split(/<br\s*\/?>/i).length])), OURS);
      for (const type of OURS) lines[type].should.be.belowOrEqual(2, `${type}: "${labels[type].paletteLabel}" takes ${lines[type]} lines`);

      const term = lang === 'zh-CN' ? '钉钉' : 'dingtalk event';
      await editor.filterPalette(term);
      const found = await editor.evaluate(() => $('#red-ui-palette-container .red-ui-palette-node').toArray()
        .filter((el) => !el.hasAttribute('data-filter') && el.style.display !== 'none').map((el) => el.dataset.paletteType).sort());
      found.length.should.be.above(0, `"${term}" finds nothing`);
      found.filter((t) => !OURS.includes(t)).should.eql([], `"${term}" finds other nodes`);
      if (lang === 'zh-CN') found.should.eql([...OURS].sort());
      else found.should.containDeep(['dingtalk-event-in', 'dingtalk-event-switch']);
      await editor.shot('palette-search');
      noErrors(editor, mark, 'the palette search');
      await editor.close();
    });
  }
});
