'use strict';
// Page helpers for the browser tests: Debian's chromium driven by playwright-core against a real
// Node-RED (test/support/node-red-process.js) with the packed module installed.
const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { ROOT } = require('../support/node-red-process');
const { nodeTypes } = require('../support/node-types');

const PKG = require('../../package.json');
const MODULE = PKG.name;
const SHOTS = path.join(__dirname, 'screenshots');
const README_SHOTS = path.join(ROOT, 'docs', 'images');
const VIEWPORT = { width: 1280, height: 800 };

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  // Without these Chromium keeps trying the (closed) network for updates, sync and field trials.
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Debian's chromium, or CHROMIUM_PATH. Missing is a failure with the install command, never a skip. */
function chromiumPath() {
  const exe = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!fs.existsSync(exe)) {
    throw new Error(`Chromium not found at ${exe}: install it with \`apt-get install -y chromium fonts-wqy-zenhei\` ` +
      '(or set CHROMIUM_PATH)');
  }
  return exe;
}

/** chromium.launch() gives the browser a fresh temporary user-data dir, removed on close. */
function launchBrowser() {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS, timeout: 60000 });
}

/** Messages of this package in one language, merged over all node sets. */
function messages(lang) {
  const dir = path.join(ROOT, 'nodes', 'locales', lang);
  const all = {};
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.json'))) {
    Object.assign(all, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  }
  return all;
}

function examples() {
  const dir = path.join(ROOT, 'examples');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => ({ name: f.replace(/\.json$/, ''), flow: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) }));
}

/** An i18n key left untranslated in visible text, e.g. "dingtalk-app.label.token". */
const RAW_KEY = /\b(?:dingtalk-[a-z-]+|node-red:[a-z-]+)\.[a-zA-Z-]+(?:\.[a-zA-Z-]+)*/;

/** How the editor logs an exception it caught in a node definition's function. */
const SWALLOWED = /^(?:Definition error: |onedit(?:prepare|cancel|delete|resize) )/;

/** One browser page on the editor, collecting console errors and uncaught exceptions. */
class Editor {
  constructor(page, red, lang) {
    this.page = page;
    this.red = red;
    this.lang = lang;
    this.errors = [];
    page.on('console', (m) => {
      if (m.type() === 'error') this.errors.push(`console.error: ${m.text()} (${m.location().url || 'page'})`);
      // The editor catches exceptions thrown by a definition's label/icon/oneditprepare/… functions and
      // only console.log()s them: count those as errors too.
      else if (SWALLOWED.test(m.text())) this.errors.push(`caught by the editor: ${m.text()}`);
    });
    page.on('pageerror', (e) => this.errors.push(`uncaught: ${e.stack || e.message}`));
    page.setDefaultTimeout(30000);
  }

  static async open(browser, red, lang) {
    const context = await browser.newContext({ viewport: VIEWPORT, locale: lang, deviceScaleFactor: 1 });
    const editor = new Editor(await context.newPage(), red, lang);
    editor.context = context;
    Editor.opened.add(editor);
    return editor;
  }

  /** Errors collected since `mark` (an index from errorMark()). */
  errorMark() {
    return this.errors.length;
  }

  errorsSince(mark) {
    return this.errors.slice(mark);
  }

  /** Empties the deployed flows through the admin API and loads the editor afresh. */
  async reset() {
    await this.red.deploy([]);
    await this.page.goto(`${this.red.adminBase}/`);
    await this.page.waitForSelector(`.red-ui-palette-node[data-palette-type="${nodeTypes(ROOT).palette[0].type}"]`, { timeout: 60000 });
    await this.page.waitForFunction(() => window.RED && RED.nodes && RED.workspaces.active() && !$('#red-ui-header-shade').is(':visible'));
    // The editor keeps the palette filter in localStorage across reloads.
    if (await this.page.locator('#red-ui-palette-search input').inputValue()) await this.filterPalette('');
  }

  evaluate(fn, arg) {
    return this.page.evaluate(fn, arg);
  }

  async shot(name, options = {}) {
    fs.mkdirSync(SHOTS, { recursive: true });
    await this.page.screenshot({ path: path.join(SHOTS, `${this.lang}-${name}.png`), ...options });
  }

  /**
   * With E2E_README_SHOTS=1, also writes docs/images/<name>.png for the README: notifications gone,
   * nothing selected on the canvas unless `keepSelection`.
   */
  async readmeShot(name, { keepSelection = false, keepLastNotification = false, hideSidebar = false } = {}) {
    if (!process.env.E2E_README_SHOTS) return;
    await this.evaluate(([keep, keepLast, hide]) => {
      // Hidden, not removed: the editor removes each notification itself when it times out.
      $('.red-ui-notification').slice(0, keepLast ? -1 : undefined).hide();
      if (!keep && !$('.red-ui-tray').length) RED.view.select({ nodes: [] });
      $(document.activeElement).filter('input, textarea, select').blur();
      if (hide) RED.menu.setSelected('menu-item-sidebar', false);
    }, [keepSelection, keepLastNotification, hideSidebar]);
    await this.page.mouse.move(1, VIEWPORT.height - 1); // no hover highlight
    await this.settle();
    fs.mkdirSync(README_SHOTS, { recursive: true });
    await this.page.screenshot({ path: path.join(README_SHOTS, `${name}.png`) });
    if (hideSidebar) await this.evaluate(() => RED.menu.setSelected('menu-item-sidebar', true));
  }

  /** Waits for jQuery animations (palette filtering, trays, sidebar) to finish. */
  async settle() {
    await this.page.waitForFunction(() => $(':animated').length === 0);
  }

  /** Drags the sidebar's separator `px` to the left, widening the sidebar. */
  async widenSidebar(px) {
    const box = await this.page.locator('#red-ui-sidebar-separator').boundingBox();
    await this.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await this.page.mouse.down();
    await this.page.mouse.move(box.x + box.width / 2 - px, box.y + box.height / 2, { steps: 10 });
    await this.page.mouse.up();
  }

  /** Types into the palette filter (fill() does not trigger the filter); '' clears it. Chinese works too. */
  async filterPalette(text) {
    const input = this.page.locator('#red-ui-palette-search input');
    await input.click();
    await input.press('ControlOrMeta+a');
    await input.press('Delete');
    if (text) await input.pressSequentially(text);
    // The filter runs on keyup, and characters typed without a key of their own (钉钉) send none: End does.
    await input.press('End');
    // The palette filters 100 ms after the last key: wait until each node's filtered state agrees with
    // the text and only categories with a match are left. Node-RED 4.1 marks filtered nodes with
    // data-filter, 4.0 hides them.
    await this.page.waitForFunction((t) => {
      const match = (s) => (s || '').toLowerCase().includes(t.toLowerCase());
      const filtered = (el) => el.hasAttribute('data-filter') || el.style.display === 'none';
      return $('#red-ui-palette-container .red-ui-palette-node').toArray().every((el) =>
        (match(el.dataset.paletteType) || match(el.dataset.paletteLabel)) === !filtered(el)) &&
        $('.red-ui-palette-category:visible').toArray().every((c) => $(c).find('.red-ui-palette-node').toArray().some((el) => !filtered(el)));
    }, text);
    await this.settle();
  }

  paletteNode(type) {
    return this.page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`);
  }

  /** Drags a node from the palette onto the workspace and returns the new node's id. */
  async dragToCanvas(type, x, y) {
    const before = await this.evaluate((t) => { const ids = []; RED.nodes.eachNode((n) => { if (n.type === t) ids.push(n.id); }); return ids; }, type);
    const item = this.paletteNode(type);
    const chart = await this.page.locator('#red-ui-workspace-chart').boundingBox();
    for (let attempt = 1; ; attempt++) {
      await item.scrollIntoViewIfNeeded();
      const box = await this.stableBox(item);
      await this.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await this.page.mouse.down();
      await this.page.mouse.move(box.x + box.width / 2 + 5, box.y + box.height / 2 + 5); // starts the jQuery UI drag
      await this.page.mouse.move(chart.x + x, chart.y + y, { steps: 20 });
      await this.page.mouse.up();
      try {
        const handle = await this.page.waitForFunction(([t, old]) => {
          let id;
          RED.nodes.eachNode((n) => { if (n.type === t && !old.includes(n.id)) id = n.id; });
          return id;
        }, [type, before], { timeout: attempt < 3 ? 5000 : 30000 });
        return handle.jsonValue();
      } catch (e) {
        if (attempt >= 3) throw new Error(`dragging ${type} onto the workspace added no node: ${e.message}`);
      }
    }
  }

  /** The bounding box once it stops moving (the palette animates while it filters or scrolls). */
  async stableBox(locator) {
    let last = await locator.boundingBox();
    for (let i = 0; i < 50; i++) {
      await this.page.waitForTimeout(50);
      const box = await locator.boundingBox();
      if (box && last && ['x', 'y', 'width', 'height'].every((k) => Math.abs(box[k] - last[k]) < 0.5)) return box;
      last = box;
    }
    throw new Error('element kept moving');
  }

  nodeOnCanvas(id) {
    return this.page.locator(`g.red-ui-flow-node-group[id="${id}"]`);
  }

  /** Double-clicks a node on the canvas; resolves once its edit tray is open and ready. */
  async openNodeDialog(id) {
    await this.nodeOnCanvas(id).locator('rect.red-ui-flow-node').dblclick();
    await this.page.locator('#node-dialog-ok').waitFor({ state: 'visible' });
    await this.page.waitForFunction(() => !$('.red-ui-tray').last().is(':animated'));
    return this.page.locator('.red-ui-tray').last();
  }

  /** Visible form rows and text of the topmost tray. */
  async trayContent() {
    return this.evaluate(() => {
      const $tray = $('.red-ui-tray').last();
      return {
        rows: $tray.find('.red-ui-tray-body .form-row:visible').length,
        labels: $tray.find('.red-ui-tray-body .form-row:visible label').map((i, l) => $(l).text().trim()).get().filter(Boolean),
        text: $tray.find('.red-ui-tray-body').get(0).innerText,
      };
    });
  }

  /** Presses Done/Update/Add of the topmost tray and waits for it to close. */
  async pressDone(button = '#node-dialog-ok') {
    const ok = this.page.locator(button);
    await ok.click();
    await ok.waitFor({ state: 'hidden' }); // the tray closed (a config tray stacks on the node's tray)
    await this.page.waitForFunction(() => !$('.red-ui-tray').is(':animated'));
  }

  /** Opens the Import dialog from the main menu. */
  async openImportDialog() {
    await this.page.locator('#red-ui-header-button-sidemenu').click();
    await this.page.locator('#menu-item-import').click();
    await this.page.locator('#red-ui-clipboard-dialog').waitFor({ state: 'visible' });
  }

  /** After Import the nodes follow the mouse until a click drops them on the workspace. */
  async dropImported() {
    const chart = await this.page.locator('#red-ui-workspace-chart').boundingBox();
    await this.page.mouse.move(chart.x + 80, chart.y + 40, { steps: 5 });
    await this.page.mouse.click(chart.x + 80, chart.y + 40);
  }

  /** Import → Examples → this module → example → Import. */
  async importExample(name) {
    await this.openImportDialog();
    await this.page.locator('#red-ui-tab-red-ui-clipboard-dialog-import-tab-examples a').click();
    const tab = this.page.locator('#red-ui-clipboard-dialog-import-tab-examples');
    await tab.locator('.red-ui-treeList-label-text', { hasText: MODULE }).click();
    await tab.locator('.red-ui-treeList-label-text').filter({ hasText: new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }).click();
    await this.page.locator('#red-ui-clipboard-dialog-ok:not(.disabled)').click();
    await this.page.locator('#red-ui-clipboard-dialog').waitFor({ state: 'hidden' });
    await this.dropImported();
  }

  /** Import → Clipboard: pastes flow JSON into the dialog's text area and imports it. */
  async importJson(flow) {
    await this.openImportDialog();
    const text = this.page.locator('#red-ui-clipboard-dialog-import-text');
    await text.fill(JSON.stringify(flow));
    await text.press('End'); // the dialog validates the JSON on keyup
    await this.page.locator('#red-ui-clipboard-dialog-ok:not(.disabled)').click();
    await this.page.locator('#red-ui-clipboard-dialog').waitFor({ state: 'hidden' });
    await this.dropImported();
  }

  /**
   * Clicks Deploy; confirms the "not properly configured" warning if asked (returns true then) and
   * waits for the success notification and a clean workspace.
   */
  async deploy() {
    await this.page.locator('#red-ui-header-button-deploy:not(.disabled)').click();
    const confirm = this.page.locator('#red-ui-deploy-dialog-confirm-deploy-deploy');
    const success = this.page.locator('.red-ui-notification-success');
    await confirm.or(success).first().waitFor({ state: 'visible' });
    let confirmed = false;
    if (await confirm.isVisible()) {
      confirmed = true;
      await confirm.click();
      await success.first().waitFor({ state: 'visible' });
    }
    await this.page.waitForFunction(() => !RED.nodes.dirty() && $('#red-ui-header-button-deploy').hasClass('disabled') &&
      !$('.red-ui-deploy-button-spinner').is(':visible'));
    return confirmed;
  }

  /** Deployed nodes from the admin API (Node-RED-API-Version v1: a flat array). */
  async deployedFlows() {
    const res = await fetch(`${this.red.adminBase}/flows`, { headers: { 'Node-RED-API-Version': 'v1' } });
    if (!res.ok) throw new Error(`GET /flows: ${res.status}`);
    return res.json();
  }

  async close() {
    Editor.opened.delete(this);
    await this.context.close();
  }
}
Editor.opened = new Set();

module.exports = { ROOT, MODULE, launchBrowser, messages, examples, Editor, RAW_KEY };
