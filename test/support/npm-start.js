'use strict';
// Runs `npm start` as a developer does, in a throw-away user directory on a free port, and reads what
// it prints (Editor, Callback URL, AppKey, Token, aesKey) once its self-check line appears.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { startOnFreePort } = require('./ports');

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Starts npm start with `env` added; resolves once it printed its summary. Always call stop().
 * The port is one that was free a moment ago; if another process takes it first, npm start exits
 * with "port in use" and is started again on another one.
 */
function startNpmStart(env = {}, options = {}) {
  return startOnFreePort((port) => startOn(port, env, options));
}

async function startOn(port, env, { timeoutMs = 60000 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-start-'));
  // Its own process group: npm does not pass SIGTERM on to the script, so stop() signals the whole group
  // (npm, scripts/start.js and Node-RED), as a terminal's Ctrl-C does.
  const child = spawn('npm', ['start', '--silent'], { cwd: ROOT, detached: true, env: { ...process.env, ...env, PORT: String(port), DEV_USER_DIR: dir } });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const handle = {
    port,
    dir,
    output: () => output,
    /** A value npm start printed as "Name:   value". */
    field: (name) => new RegExp(`^${name}:\\s+(\\S+)$`, 'm').exec(output)?.[1],
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(-child.pid, 'SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const started = Date.now();
  // Its own Node-RED must say it listens: the self-check could reach another process on this port.
  const listening = new RegExp(`Server now running at http://127\\.0\\.0\\.1:${port}/`);
  while (!(/Self-check:/.test(output) && listening.test(output))) {
    if (Date.now() - started > timeoutMs || child.exitCode !== null) {
      await handle.stop();
      const err = new Error(`npm start did not come up:\n${output}`);
      err.output = output;
      throw err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return handle;
}

module.exports = { ROOT, startNpmStart };
