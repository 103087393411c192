'use strict';
// `npm start` as a developer runs it: a local Node-RED with the demo flow, and printed credentials that
// DingTalk's check_url, signed with them, gets an encrypted success from; the dingtalk-sim command it
// prints pushes a verified sample event.
const should = require('should');
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { makePush, openReply } = require('../support/push');
const { ROOT, startNpmStart } = require('../support/npm-start');

describe('npm start (e2e)', function () {
  this.timeout(90000);
  let started;

  after(async function () {
    if (started) await started.stop();
  });

  it('prints the editor URL, callback URL and demo credentials, and answers a check_url signed with them', async function () {
    started = await startNpmStart();
    const { field, port } = started;
    field('Editor').should.equal(`http://127.0.0.1:${port}/admin/`);
    const callbackUrl = field('Callback URL');
    callbackUrl.should.equal(`http://127.0.0.1:${port}/dingtalk/demo`);
    const creds = { token: field('Token'), aesKey: field('aesKey'), receiveId: field('AppKey') };
    creds.aesKey.should.match(/^[A-Za-z0-9]{43}$/);

    const p = makePush('{"EventType":"check_url"}', creds);
    const res = await fetch(`${callbackUrl}?${p.query}`, { method: 'POST', body: p.body, headers: { 'content-type': 'application/json' } });
    res.status.should.equal(200);
    openReply(await res.json(), creds).should.equal('success');
    (await fetch(field('Editor'))).status.should.equal(200);
    // The printed simulator command works as pasted into a shell in the checkout (where npm start was typed).
    const command = /^ {2}(DINGTALK_TOKEN=\S+ DINGTALK_AES_KEY=\S+ node \S+ send --url (\S+) --receive-id (\S+) --type bpms_instance_change)$/m.exec(started.output());
    should.exist(command, started.output());
    command[2].should.equal(callbackUrl);
    command[3].should.equal(creds.receiveId);
    const sim = execFileSync('sh', ['-c', command[1]], { cwd: ROOT, encoding: 'utf8' });
    sim.should.match(/^bpms_instance_change {2}eventId=\S+ {2}HTTP 200 {2}\d+ ms {2}verified\n1 of 1 reply verified\n$/);
    // the user directory is the throw-away one, and the demo secrets are not in its flows file
    const flows = fs.readFileSync(path.join(started.dir, 'flows.json'), 'utf8');
    flows.should.not.containEql(creds.token);
    flows.should.not.containEql(creds.aesKey);
  });
});
