'use strict';
// Browser tests of the editor side: Debian's chromium (playwright-core) against a real Node-RED started
// from the command line, with the packed tarball installed in its user directory the way the palette
// manager installs it. Screenshots of each step go to test/browser/screenshots/ (ignored); with
// E2E_README_SHOTS=1 the run also refreshes the README's docs/images/*.png.
const assert = require('node:assert');
const should = require('should');
const fs = require('node:fs');
const { installPackedModule, NodeRedProcess } = require('../support/node-red-process');
const { nodeTypes } = require('../support/node-types');
const { ROOT, launchBrowser, messages, examples, Editor, RAW_KEY } = require('./editor');

const { palette: PALETTE, config: CONFIG } = nodeTypes(ROOT);
const CATEGORY = PALETTE[0].category;
const EN = messages('en-US');
const ZH = messages('zh-CN');

/** Fails with the collected browser errors, if any. */
function noErrors(editor, mark, during) {
  const errors = editor.errorsSince(mark);
  assert.deepStrictEqual(errors, [], `browser errors during ${during}:\n${errors.join('\n')}`);
}

const squash = (s) => String(s).replace(/\s+/g, '');

describe('editor in Chromium, real Node-RED with the packed module (browser e2e)', function () {
  this.timeout(120000);
  let browser;
  let install;
  let red;
  let en;

  before(async function () {
    this.timeout(300000);
    browser = await launchBrowser(); // first: a missing chromium fails at once, with the install command
    install = installPackedModule();
    red = new NodeRedProcess(install.userDir, {});
    await red.start();
    en = await Editor.open(browser, red, 'en-US');
  });

  // A failed step leaves a screenshot of each open page, and a clean editor for the next test.
  afterEach(async function () {
    if (this.currentTest.state !== 'failed') return;
    const title = this.currentTest.title.replace(/\W+/g, '-').slice(0, 80);
    for (const editor of Editor.opened) {
      await editor.shot(`FAILED-${title}`).catch(() => {});
      await editor.reset().catch(() => {});
    }
  });

  after(async function () {
    if (browser) await browser.close();
    if (red) await red.stop();
    if (install) fs.rmSync(install.work, { recursive: true, force: true });
  });

  it('the palette shows the DingTalk category with every non-config node, labelled and with its icon', async function () {
    const mark = en.errorMark();
    await en.reset();
    should(PALETTE.every((p) => p.category === CATEGORY)).be.true('all palette nodes share one category');
    const header = en.page.locator(`#red-ui-palette-header-${CATEGORY}`);
    await header.waitFor({ state: 'visible' });
    squash(await header.innerText()).should.equal(squash(EN.palette.label[CATEGORY]));
    for (const { type } of PALETTE) {
      const item = en.page.locator(`#red-ui-palette-${CATEGORY} .red-ui-palette-node[data-palette-type="${type}"]`);
      (await item.count()).should.equal(1, `${type} is not in the ${CATEGORY} category`);
      squash(await item.locator('.red-ui-palette-label').innerText()).should.equal(squash(EN[type].paletteLabel));
    }
    // Each palette icon is served (icons/ beside the node .js made it into the tarball).
    const icons = await en.evaluate(async () => {
      const out = {};
      for (const el of document.querySelectorAll('.red-ui-palette-node[data-palette-type^="dingtalk-"] .red-ui-palette-icon-container')) {
        const url = el.getAttribute('data-palette-icon');
        const res = await fetch(url);
        out[el.closest('.red-ui-palette-node').dataset.paletteType] = `${res.status} ${res.headers.get('content-type')}`;
      }
      return out;
    });
    Object.keys(icons).sort().should.eql(PALETTE.map((p) => p.type).sort());
    for (const [type, answer] of Object.entries(icons)) answer.should.match(/^200 image\//, `icon of ${type}: ${answer}`);
    // Config types are registered but live in the config sidebar, not the palette.
    for (const { type } of CONFIG) {
      (await en.paletteNode(type).count()).should.equal(0);
      (await en.evaluate((t) => Boolean(RED.nodes.getType(t)), type)).should.be.true(`${type} is not registered`);
    }
    await en.shot('palette');
    noErrors(en, mark, 'the palette check');
  });

  describe('edit dialogs (drag from the palette, double-click, Done)', function () {
    before(async function () {
      await en.reset();
      await en.filterPalette('dingtalk');
    });

    afterEach(async function () {
      if (this.currentTest.state === 'failed') await en.filterPalette('dingtalk');
    });

    const checkTray = async (during) => {
      const tray = await en.trayContent();
      tray.rows.should.be.above(0, `${during}: no form row rendered`);
      assert.strictEqual(RAW_KEY.exec(tray.text)?.[0], undefined, `${during}: untranslated key in the dialog`);
      return tray;
    };

    for (const { type } of CONFIG) {
      it(`${type}: added from a node's picker, token and aesKey generated, saved`, async function () {
        const mark = en.errorMark();
        const host = PALETTE.find((p) => p.type === 'dingtalk-event-in') || PALETTE[0];
        const id = await en.dragToCanvas(host.type, 200, 60);
        await en.openNodeDialog(id);
        await en.page.locator('#node-input-btn-app-add').click(); // the picker's plus button
        await en.page.locator('#node-config-dialog-ok').waitFor({ state: 'visible' });
        await checkTray(`${type} dialog`);
        await en.page.locator('#node-config-input-name').fill('e2e app');
        const generate = en.page.locator('#node-config-dingtalk-app-generate');
        if (await generate.count()) {
          await generate.click();
          (await en.page.locator('#node-config-input-token').inputValue()).should.match(/^[A-Za-z0-9]{32}$/);
          (await en.page.locator('#node-config-input-aesKey').inputValue()).should.match(/^[A-Za-z0-9]{43}$/);
        }
        await en.shot(`dialog-${type}`);
        await en.pressDone('#node-config-dialog-ok');
        await en.pressDone();
        const saved = await en.evaluate((nodeId) => {
          const node = RED.nodes.node(nodeId);
          const app = RED.nodes.node(node.app);
          return app && { type: app.type, name: app.name, valid: app.valid, token: Boolean(app.credentials && app.credentials.token) };
        }, id);
        should(saved).eql({ type, name: 'e2e app', valid: true, token: true });
        noErrors(en, mark, `the ${type} dialog`);
      });
    }

    PALETTE.forEach(({ type }, i) => {
      it(`${type}: dialog opens, renders its rows and saves`, async function () {
        const mark = en.errorMark();
        const id = await en.dragToCanvas(type, 200 + 180 * (i % 3), 140 + 80 * Math.floor(i / 3));
        await en.openNodeDialog(id);
        await checkTray(`${type} dialog`);
        const name = en.page.locator('#node-input-name');
        if (await name.count()) await name.fill(`e2e ${type}`);
        await en.shot(`dialog-${type}`);
        await en.pressDone();
        const saved = await en.evaluate((nodeId) => RED.nodes.node(nodeId).name, id);
        if (await name.count()) should(saved).equal(`e2e ${type}`);
        noErrors(en, mark, `the ${type} dialog`);
      });
    });
  });

  describe('examples (Import → Examples → module → example → Import, then Deploy)', function () {
    const key = (n) => `${n.type}|${n.type === 'tab' ? n.label : n.name || ''}`;
    for (const { name, flow } of examples()) {
      it(`"${name}" imports and deploys`, async function () {
        await en.reset();
        const mark = en.errorMark();
        const logMark = red.output.length;
        await en.importExample(name);
        const inEditor = await en.evaluate(() => {
          const out = [];
          RED.nodes.eachNode((n) => out.push(n.type));
          RED.nodes.eachConfig((n) => out.push(n.type));
          return out;
        });
        inEditor.sort().should.eql(flow.filter((n) => n.type !== 'tab').map((n) => n.type).sort());
        if (name === 'Distribute events to business systems' && process.env.E2E_README_SHOTS) {
          await en.evaluate((label) => RED.workspaces.show(RED.nodes.getWorkspaceOrder()
            .find((id) => RED.nodes.workspace(id).label === label)), flow.find((n) => n.type === 'tab').label);
          await en.filterPalette('dingtalk');
          await en.readmeShot('hub-flow', { hideSidebar: true });
        }
        const confirmed = await en.deploy();
        if (confirmed) console.log(`      (deploy of "${name}" asked to confirm nodes that are not configured yet)`);
        await en.shot(`example-${name.replace(/\W+/g, '-')}`);
        const deployed = (await en.deployedFlows()).map(key);
        for (const n of flow) deployed.should.containEql(key(n));
        deployed.filter((k) => !k.startsWith('tab|')).sort().should.eql(flow.filter((n) => n.type !== 'tab').map(key).sort());
        noErrors(en, mark, `import and deploy of "${name}"`);
        // Unconfigured credentials give warnings and statuses; a crash in a node would show as a JS error.
        const log = red.output.slice(logMark);
        should(log).not.match(/\b(?:TypeError|ReferenceError|RangeError|SyntaxError|uncaught exception)\b/i);
      });
    }
  });

  describe('"Send test event" on dingtalk-event-in', function () {
    it('a test event pushed through the real callback URL shows in the debug sidebar with source "test"', async function () {
      await en.reset();
      const mark = en.errorMark();
      // The app arrives without credentials (as with any import); token and aesKey are generated in its dialog.
      await en.importJson([
        { id: 'e2e0test0in00001', type: 'dingtalk-event-in', name: '', app: 'e2e0test0app0001', url: '/dingtalk/events', x: 180, y: 100, wires: [['e2e0test0dbg0001']] },
        { id: 'e2e0test0dbg0001', type: 'debug', name: 'DingTalk event', active: true, tosidebar: true, console: false, tostatus: false,
          complete: 'true', targetType: 'full', x: 420, y: 100, wires: [] },
        { id: 'e2e0test0app0001', type: 'dingtalk-app', name: 'Test app', appKey: '', corpId: '', callbackStyle: 'event-subscription' },
      ]);
      const ids = await en.evaluate(() => {
        const out = {};
        RED.nodes.eachNode((n) => { out[n.type] = n.id; });
        RED.nodes.eachConfig((n) => { out[n.type] = n.id; });
        return out;
      });
      await en.openNodeDialog(ids['dingtalk-event-in']);
      await en.page.locator('#node-input-btn-app-edit').click(); // the picker's pencil
      await en.page.locator('#node-config-input-appKey').fill('dingtest0e2e0appkey'); // the receive id of a console app
      await en.page.locator('#node-config-dingtalk-app-generate').click();
      await en.pressDone('#node-config-dialog-ok');
      const callback = en.page.locator('#node-input-dingtalk-event-in-callback-url');
      (await callback.innerText()).should.equal(`${red.nodeBase}/dingtalk/events`);
      (await en.page.locator('#node-input-testType').inputValue()).should.equal('bpms_instance_change');
      await en.readmeShot('event-in-dialog');
      await en.shot('test-event-dialog');
      await en.pressDone();
      (await en.deploy()).should.be.false('deploy asked to confirm: a node is not configured');
      // The receiver shows its path and counters once its route is up (a probe request would be logged as rejected).
      await en.nodeOnCanvas(ids['dingtalk-event-in']).locator('.red-ui-flow-node-status-label', { hasText: '/dingtalk/events' })
        .waitFor({ state: 'visible' });

      const button = en.nodeOnCanvas(ids['dingtalk-event-in']).locator('.red-ui-flow-node-button');
      await button.waitFor({ state: 'visible' });
      await en.page.waitForFunction((id) => !document.getElementById(id).querySelector('.red-ui-flow-node-button')
        .classList.contains('red-ui-flow-node-button-disabled'), ids['dingtalk-event-in']);
      await button.locator('.red-ui-flow-node-button-button').click();
      const notice = en.page.locator('.red-ui-notification-success, .red-ui-notification-error').last();
      await notice.waitFor({ state: 'visible' });
      (await notice.getAttribute('class')).should.match(/success/, `the test failed: ${await notice.innerText()}`);

      await en.evaluate(() => RED.sidebar.show('debug'));
      const msg = en.page.locator('.red-ui-debug-msg', { hasText: 'DingTalk event' }).first();
      await msg.waitFor({ state: 'visible' });
      // Expand the message object, then msg.payload and msg.dingtalk, to read them as a user would.
      await msg.locator('.red-ui-debug-msg-object-handle').first().click();
      for (const prop of ['payload', 'dingtalk']) {
        await msg.locator('.red-ui-debug-msg-object-key:visible', { hasText: new RegExp(`^${prop}$`) }).first().click();
      }
      const text = await msg.innerText();
      text.should.match(/EventType:\s*"bpms_instance_change"/);
      text.should.match(/source:\s*"test"/);
      if (process.env.E2E_README_SHOTS) await en.widenSidebar(280);
      await en.readmeShot('test-event-debug', { keepLastNotification: true });
      await en.shot('test-event-debug');
      noErrors(en, mark, 'the test event');
    });
  });

  describe('two receivers on one path', function () {
    it('the second receiver on a taken path is marked invalid before deploy, and the mark clears once the paths differ', async function () {
      await en.reset();
      const mark = en.errorMark();
      // receivers otherwise valid (with an app), so the invalid marker is about the path alone
      const receiver = (id, name, url, extra = {}) => ({ id, type: 'dingtalk-event-in', name, app: 'e2e0path0app0001', url, x: 180, y: 0, wires: [[]], ...extra });
      // what users do: a receiver in the workspace, then an example or a copy on the same path
      await en.importJson([receiver('e2e0path0first01', 'first', '/dingtalk/shared', { y: 80 }),
        { id: 'e2e0path0app0001', type: 'dingtalk-app', name: 'Path app', appKey: 'dingtest0path0appkey', corpId: '', callbackStyle: 'event-subscription' }]);
      (await en.evaluate(() => RED.nodes.node('e2e0path0first01').valid)).should.be.true('a lone receiver is valid');
      await en.importJson([receiver('e2e0path0second1', 'second', '/dingtalk/shared/', { y: 160 })]);
      const state = () => en.evaluate(() => {
        const out = {};
        RED.nodes.eachNode((n) => {
          if (n.type !== 'dingtalk-event-in') return;
          out[n.name] = { valid: n.valid, errors: n.validationErrors || [], marked: $(`g.red-ui-flow-node-group[id="${n.id}"] .red-ui-flow-node-error`).is(':visible') };
        });
        return out;
      });
      const waitMarked = (name, marked) => en.page.waitForFunction(([n, m]) => {
        let id;
        RED.nodes.eachNode((x) => { if (x.name === n) id = x.id; });
        return $(`g.red-ui-flow-node-group[id="${id}"] .red-ui-flow-node-error`).is(':visible') === m;
      }, [name, marked]);
      await waitMarked('second', true);
      let now = await state();
      now.second.valid.should.be.false();
      now.second.errors.join(' ').should.containEql(EN['dingtalk-event-in'].validation['duplicate-path']
        .replace('__other__', 'first').replace('__path__', '/dingtalk/shared'));
      // the conflict shows on both sides: at run time the first deployed keeps the path, the editor cannot know which
      now.first.valid.should.be.false();
      await en.shot('duplicate-path-invalid');

      // the dialog says so on the path field; another path clears both marks
      await en.openNodeDialog('e2e0path0second1');
      await en.page.waitForFunction(() => $('#node-input-url').hasClass('input-error'));
      await en.page.locator('#node-input-url').fill('/dingtalk/second');
      await en.page.locator('#node-input-url').press('End'); // the dialog validates on keyup
      await en.page.waitForFunction(() => !$('#node-input-url').hasClass('input-error'));
      await en.pressDone();
      await waitMarked('second', false);
      await waitMarked('first', false);
      now = await state();
      now.first.valid.should.be.true();
      now.second.valid.should.be.true();

      // a disabled receiver claims nothing: it neither is marked nor marks the other
      await en.importJson([receiver('e2e0path0spare01', 'spare', '/dingtalk/shared', { y: 240, d: true })]);
      await en.settle();
      now = await state();
      now.spare.valid.should.be.true();
      now.first.valid.should.be.true();

      // escapes are decoded as at run time (routeKey): "/dingtalk/%73econd" is the second's path
      await en.importJson([receiver('e2e0path0escape1', 'escaped', '/dingtalk/%73econd', { y: 320 })]);
      await waitMarked('escaped', true);
      (await state()).escaped.valid.should.be.false();
      noErrors(en, mark, 'the duplicate-path check');
    });
  });

  describe('zh-CN browser', function () {
    let zh;
    before(async function () {
      zh = await Editor.open(browser, red, 'zh-CN');
      await zh.reset();
    });
    after(async function () {
      if (zh) await zh.close();
    });

    it('the editor follows navigator.language: palette category and node labels in Chinese', async function () {
      const mark = zh.errorMark();
      (await zh.evaluate(() => [navigator.language, RED.i18n.lang()])).should.eql(['zh-CN', 'zh-CN']);
      const header = zh.page.locator(`#red-ui-palette-header-${CATEGORY}`);
      squash(await header.innerText()).should.equal(squash(ZH.palette.label[CATEGORY]));
      (await header.innerText()).should.match(/钉钉/);
      for (const { type } of PALETTE) {
        ZH[type].paletteLabel.should.match(/[\u4e00-\u9fff]/, `zh-CN paletteLabel of ${type} is not Chinese`);
        squash(await zh.paletteNode(type).locator('.red-ui-palette-label').innerText()).should.equal(squash(ZH[type].paletteLabel));
      }
      await zh.filterPalette('dingtalk');
      for (const { type } of PALETTE) await zh.paletteNode(type).waitFor({ state: 'visible' });
      await zh.shot('palette');
      noErrors(zh, mark, 'the zh-CN palette');
    });

    it('the dingtalk-event-in dialog shows Chinese labels', async function () {
      const mark = zh.errorMark();
      const id = await zh.dragToCanvas('dingtalk-event-in', 200, 100);
      await zh.openNodeDialog(id);
      const tray = await zh.trayContent();
      assert.strictEqual(RAW_KEY.exec(tray.text)?.[0], undefined, 'untranslated key in the dialog');
      const zhLabels = Object.values(ZH['dingtalk-event-in'].label).map(squash);
      const enOnly = Object.values(EN['dingtalk-event-in'].label).map(squash).filter((l) => !zhLabels.includes(l));
      // A checkbox label carries its explanation after the label text: compare by prefix.
      const shown = tray.labels.map(squash);
      shown.filter((l) => zhLabels.some((z) => l.startsWith(z))).length.should.be.aboveOrEqual(3, `labels shown: ${shown.join(' | ')}`);
      shown.filter((l) => enOnly.some((e) => l.startsWith(e))).should.be.empty();
      await zh.shot('dialog-dingtalk-event-in');
      await zh.readmeShot('palette-zh-CN'); // the Chinese palette beside a Chinese dialog
      await zh.pressDone();
      noErrors(zh, mark, 'the zh-CN dialog');
    });
  });
});
