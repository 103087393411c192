'use strict';
// dingtalk-sim as a developer runs it: `npm start`, then the CLI as a child process pushing every sample
// event type to the printed callback URL with the printed credentials.
require('should');
const path = require('node:path');
const { execFile } = require('node:child_process');
const { generateAesKey, generateToken } = require('../../core/cipher');
const { sampleEventTypes } = require('../../core/sample-events');
const { ROOT, startNpmStart } = require('../support/npm-start');

const BIN = path.join(ROOT, 'bin', 'dingtalk-sim.js');
const creds = { DINGTALK_APP_KEY: 'dingsime2eapp0001', DINGTALK_TOKEN: generateToken(), DINGTALK_AES_KEY: generateAesKey() };

/** Runs the CLI with the secrets in its environment; resolves { code, stdout, stderr }. */
function sim(args, env = creds) {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 30000 }, (err, stdout, stderr) => {
      const out = { code: err ? err.code : 0, stdout, stderr };
      for (const secret of [creds.DINGTALK_TOKEN, creds.DINGTALK_AES_KEY]) (stdout + stderr).should.not.containEql(secret);
      resolve(out);
    });
  });
}

describe('dingtalk-sim against npm start (e2e)', function () {
  this.timeout(90000);
  let app;
  let target;

  before(async function () {
    app = await startNpmStart(creds);
    app.field('Token').should.equal(creds.DINGTALK_TOKEN);
    target = ['--url', app.field('Callback URL'), '--receive-id', app.field('AppKey')];
  });
  after(() => app?.stop());

  it('pushes every sample event type and verifies every reply', async function () {
    const types = sampleEventTypes();
    const r = await sim(['send', ...target, '--type', types.join(',')]);
    r.stderr.should.equal('');
    r.code.should.equal(0, r.stdout);
    const lines = r.stdout.trim().split('\n');
    lines.should.have.length(types.length + 1);
    types.forEach((type, i) => lines[i].should.match(new RegExp(`^${type}( {2}eventId=\\S+)? {2}HTTP 200 {2}\\d+ ms {2}verified$`)));
    lines[types.length].should.equal(`${types.length} of ${types.length} replies verified`);
  });

  it('check-url is answered with a verified success', async function () {
    const r = await sim(['check-url', ...target]);
    r.code.should.equal(0, r.stdout + r.stderr);
    r.stdout.should.match(/^check_url {2}HTTP 200 {2}\d+ ms {2}verified$/m);
  });

  it('a wrong token exits non-zero and says the signature did not match', async function () {
    const r = await sim(['send', ...target, '--type', 'bpms_instance_change'], { ...creds, DINGTALK_TOKEN: 'notTheDemoToken' });
    r.code.should.equal(1);
    r.stdout.should.match(/HTTP 403 .*NOT VERIFIED: HTTP 403: bad-signature: signature does not match \(check the token\)/);
  });

  it('a usage error exits 2 with a hint', async function () {
    const r = await sim(['send', ...target]);
    r.code.should.equal(2);
    r.stdout.should.equal('');
    r.stderr.should.equal('dingtalk-sim send: give either --type or --file\nRun "dingtalk-sim send --help" for usage.\n');
  });
});
