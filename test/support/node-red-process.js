'use strict';
// Real Node-RED processes for end-to-end tests: the packed tarball installed into a throw-away user
// directory the way the palette manager installs it, and Node-RED started from the command line.
const fs = require('node:fs');
const path = require('node:path');
const { spawn, execFileSync } = require('node:child_process');
const { startOnFreePort, PORT_IN_USE } = require('./ports');
const { tempDir } = require('./temp');
const { packageDir, manifest, copyWithDependencies } = require('./installed-package');

const ROOT = path.resolve(__dirname, '..', '..');
// DINGTALK_E2E_NODE_RED=<dir with node_modules/node-red> runs the same tests against another Node-RED
// release (the package declares >=4.0.0; development uses 4.1.x).
const NODE_RED = process.env.DINGTALK_E2E_NODE_RED
  ? require.resolve('node-red/red.js', { paths: [process.env.DINGTALK_E2E_NODE_RED] })
  : require.resolve('node-red/red.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until truthy (30 s by default); an error with `fatal` set ends the wait at once. */
async function waitFor(what, fn, timeoutMs = 30000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      if (await fn()) return;
    } catch (e) {
      if (e.fatal) throw e;
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

/** Node-RED's "listening" log line, en-US or zh-CN. */
const READY_LINE = /(Server now running at|服务器现在在)/;

/** Packs the package and installs the tarball into a fresh user directory, as the palette manager does. */
function installPackedModule() {
  const work = tempDir('dingtalk-e2e-'); // the callers remove it in after(); at exit at the latest
  const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
  const tarball = path.join(work, JSON.parse(packed)[0].filename);
  const userDir = path.join(work, 'userdir');
  fs.mkdirSync(userDir);
  fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }));
  // better-sqlite3 12.x (what npm picks on Node 20) builds from source here, a minute per user directory:
  // seed the copy this checkout compiled (node-gyp's build/ folder), which npm keeps because it satisfies
  // the range (npm does not complete a package it keeps: its dependencies are seeded with it). 13.x
  // (Node >= 22) ships its binary and installs in seconds: it is left to npm, as in the palette manager.
  if (fs.existsSync(path.join(packageDir('better-sqlite3', ROOT), 'build'))) copyWithDependencies('better-sqlite3', ROOT, userDir);
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--omit=dev', '--prefer-offline', tarball], { cwd: userDir, stdio: 'pipe' });
  const installed = manifest(packageDir('better-sqlite3', userDir)).version;
  return { work, userDir, tarball, sqliteVersion: installed };
}

class NodeRedProcess {
  /**
   * `launch` may add Node.js options (`execArgv`, e.g. a --require probe), environment variables (`env`) and
   * `settingsCode`: JavaScript for an object merged over the settings last, for what JSON cannot hold
   * (functions such as httpNodeMiddleware), e.g. "{ httpNodeMiddleware: (req, res, next) => next() }".
   */
  constructor(userDir, settings, launch = {}) {
    this.userDir = userDir;
    this.settings = settings;
    this.execArgv = launch.execArgv ?? [];
    this.env = launch.env ?? {};
    this.settingsCode = launch.settingsCode;
    this.output = '';
  }

  /**
   * Starts Node-RED; a restart after stop() or kill() keeps the port, flows, credentials and store.
   * The first start takes a port that was free a moment ago and, should another process take it
   * first (EADDRINUSE), starts again on another one.
   */
  async start() {
    if (this.port !== undefined) return this.startOn(this.port);
    return startOnFreePort((port) => this.startOn(port).catch((err) => {
      this.port = undefined;
      throw err;
    }));
  }

  async startOn(port) {
    this.port = port;
    const settingsFile = path.join(this.userDir, `settings-${this.port}.js`);
    const settings = {
      uiHost: '127.0.0.1',
      uiPort: this.port,
      flowFile: `flows-${this.port}.json`,
      credentialSecret: 'e2e-only-credential-secret',
      telemetry: { enabled: false, updateNotification: false },
      diagnostics: { enabled: false, ui: false },
      editorTheme: { tours: false, palette: { catalogues: [] }, projects: { enabled: false } },
      logging: { console: { level: 'info', metrics: false, audit: false } },
      lang: 'en-US',
      dingtalkStorePath: path.join(this.userDir, `store-${this.port}.sqlite`),
      ...this.settings,
    };
    const json = JSON.stringify(settings, null, 2);
    // Readiness below waits for this child's "Server now running" line: a logger of its own prints it
    // whatever level the console logger has (the benchmarks run at "warn").
    const readyLogger = `{ level: 'info', metrics: false, audit: false, handler: () => (m) => {
      if (typeof m.msg === 'string' && READY.test(m.msg)) process.stdout.write(m.msg + '\\n');
    } }`;
    fs.writeFileSync(settingsFile, [
      `const READY = ${READY_LINE};`,
      `const settings = ${json};`,
      `settings.logging = { ...settings.logging, e2eReady: ${readyLogger} };`,
      `module.exports = ${this.settingsCode ? `Object.assign(settings, ${this.settingsCode})` : 'settings'};`,
      '',
    ].join('\n'));
    const mark = this.output.length;
    this.child = spawn(process.execPath, [...this.execArgv, NODE_RED, '-u', this.userDir, '-s', settingsFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_RED_ENABLE_PROJECTS: 'false', ...this.env },
    });
    this.child.stdout.on('data', (d) => { this.output += d; });
    this.child.stderr.on('data', (d) => { this.output += d; });
    this.exited = new Promise((r) => this.child.once('exit', r));
    this.adminBase = `http://127.0.0.1:${this.port}${(settings.httpAdminRoot || '/').replace(/\/$/, '')}`;
    this.nodeBase = `http://127.0.0.1:${this.port}${(settings.httpNodeRoot || '/').replace(/\/$/, '')}`;
    // Ready when this child says it listens (en-US or zh-CN log) and answers: another process on the
    // same port would answer /settings too. An exit before that fails at once, EADDRINUSE included.
    const listening = new RegExp(`${READY_LINE.source}\\s*http://127\\.0\\.0\\.1:${this.port}/`);
    await waitFor('Node-RED to start', async () => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        const err = new Error(`Node-RED exited (${this.child.exitCode ?? this.child.signalCode}) before it listened on ${this.port}`);
        err.output = this.output.slice(mark);
        err.fatal = true;
        throw err;
      }
      if (PORT_IN_USE.test(this.output.slice(mark))) return false; // it is about to exit
      return listening.test(this.output.slice(mark)) && (await fetch(`${this.adminBase}/settings`)).ok;
    });
  }

  async deploy(flow) {
    const res = await fetch(`${this.adminBase}/flows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
      body: JSON.stringify(flow),
    });
    if (res.status !== 204 && res.status !== 200) throw new Error(`deploy failed: ${res.status} ${await res.text()}`);
  }

  /** kill -9: no shutdown handlers, no flushing, as in a crash. */
  async kill() {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Resident memory of the process in bytes (Linux), or undefined once it has gone. */
  rss() {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${this.child.pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    await Promise.race([this.exited, sleep(10000).then(() => this.child.kill('SIGKILL'))]);
  }
}

/**
 * Mocha hooks for a suite of real-process tests, called inside its describe(): the packed package is
 * installed once (`install`), and what a test registers with cleanup(fn) is undone after that test,
 * last first, whatever happened (a failed assertion must not leave a process or a mount behind).
 */
function installedPackageSuite() {
  let undo = [];
  const suite = {
    install: undefined,
    cleanup: (fn) => { undo.push(fn); },
  };
  before(function () { suite.install = installPackedModule(); });
  afterEach(async function () {
    for (const fn of undo.reverse()) {
      try { await fn(); } catch (err) { console.log(`      cleanup: ${err.message}`); }
    }
    undo = [];
  });
  after(function () { if (suite.install) fs.rmSync(suite.install.work, { recursive: true, force: true }); });
  return suite;
}

module.exports = { ROOT, NODE_RED, sleep, waitFor, installPackedModule, installedPackageSuite, NodeRedProcess };
