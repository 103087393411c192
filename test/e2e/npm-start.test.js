'use strict';
// `npm start` as a developer runs it: a local Node-RED with the demo flow, and printed credentials that
// DingTalk's check_url, signed with them, gets an encrypted success from.
require('should');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const http = require('node:http');
const { spawn } = require('node:child_process');
const { makePush, openReply } = require('../support/push');

const ROOT = path.resolve(__dirname, '..', '..');

function freePort() {
  return new Promise((resolve) => {
    const s = http.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

describe('npm start (e2e)', function () {
  this.timeout(90000);
  let child;
  let dir;
  let output = '';

  after(async function () {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints the editor URL, callback URL and demo credentials, and answers a check_url signed with them', async function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-start-'));
    const port = await freePort();
    child = spawn('npm', ['start', '--silent'], { cwd: ROOT, env: { ...process.env, PORT: String(port), DEV_USER_DIR: dir } });
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const started = Date.now();
    while (!/Self-check:/.test(output)) {
      if (Date.now() - started > 60000 || child.exitCode !== null) throw new Error(`npm start did not come up:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const field = (name) => new RegExp(`^${name}:\\s+(\\S+)$`, 'm').exec(output)?.[1];
    field('Editor').should.equal(`http://127.0.0.1:${port}/`);
    const callbackUrl = field('Callback URL');
    callbackUrl.should.equal(`http://127.0.0.1:${port}/dingtalk/events`);
    const creds = { token: field('Token'), aesKey: field('aesKey'), receiveId: field('AppKey') };
    creds.aesKey.should.match(/^[A-Za-z0-9]{43}$/);

    const p = makePush('{"EventType":"check_url"}', creds);
    const res = await fetch(`${callbackUrl}?${p.query}`, { method: 'POST', body: p.body, headers: { 'content-type': 'application/json' } });
    res.status.should.equal(200);
    openReply(await res.json(), creds).should.equal('success');
    (await fetch(field('Editor'))).status.should.equal(200);
    // the user directory is the throw-away one, and the demo secrets are not in its flows file
    const flows = fs.readFileSync(path.join(dir, 'flows.json'), 'utf8');
    flows.should.not.containEql(creds.token);
    flows.should.not.containEql(creds.aesKey);
  });
});
