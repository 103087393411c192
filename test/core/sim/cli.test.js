'use strict';
// dingtalk-sim's commands run in-process (main with captured output) against the receiver over HTTP.
require('should');
const fs = require('node:fs');
const path = require('node:path');
const { main } = require('../../../core/sim/cli');
const { sampleEventTypes } = require('../../../core/sample-events');
const { APP } = require('../../support/push');
const { startReceiverServer } = require('../../support/receiver-server');
const { tempDir } = require('../../support/temp');

/** Runs the CLI; returns { code, out, err } (lines joined). The secrets must never show up in either. */
async function run(argv, env = {}) {
  const out = [];
  const err = [];
  const code = await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l), env });
  const text = { code, out: out.join('\n'), err: err.join('\n') };
  for (const secret of [APP.token, APP.aesKey]) (text.out + text.err).should.not.containEql(secret);
  return text;
}

describe('core/sim/cli (dingtalk-sim)', function () {
  let server;
  let args;
  before(async function () {
    server = await startReceiverServer();
    args = ['--url', server.url, '--receive-id', APP.appKey, '--token', APP.token, '--aes-key', APP.aesKey];
  });
  after(() => server.close());
  beforeEach(() => server.events.splice(0));

  it('sends the types given (repeated and comma-separated), N times each, as distinct events', async function () {
    const r = await run(['send', ...args, '--type', 'user_add_org,org_change', '--type', 'suite_ticket', '--count', '3']);
    r.code.should.equal(0);
    const lines = r.out.split('\n');
    lines.should.have.length(10);
    // eventId= only for samples that carry DingTalk's own id (suite_ticket has none)
    lines.slice(0, 9).forEach((l) => l.should.match(/^(user_add_org|org_change)  eventId=\S+  HTTP 200  \d+ ms  verified$|^suite_ticket  HTTP 200  \d+ ms  verified$/));
    lines[9].should.equal('9 of 9 replies verified');
    // Same type, same millisecond must not collapse into one event through the content key.
    server.events.should.have.length(9);
    new Set(server.events.map((e) => e.dingtalk.eventId)).size.should.equal(9);
  });

  it('sends every type with --type all, and samples carry --corp-id', async function () {
    const r = await run(['send', ...args, '--type', 'all', '--corp-id', 'dingcorpfromcli01']);
    r.code.should.equal(0);
    r.out.should.containEql(`${sampleEventTypes().length} of ${sampleEventTypes().length} replies verified`);
    server.events.find((e) => e.topic === 'bpms_task_change').dingtalk.corpId.should.equal('dingcorpfromcli01');
  });

  it('sends a payload file as it is; --count repeats it as DingTalk retries (same event id)', async function () {
    const file = path.join(tempDir('sim-'), 'event.json');
    fs.writeFileSync(file, JSON.stringify({ EventType: 'bpms_instance_change', eventId: 'fromfile1', processInstanceId: 'p-1', title: '李四提交的报销' }));
    const r = await run(['send', ...args, '--file', file, '--count', '2', '--json']);
    r.code.should.equal(0);
    const rows = r.out.split('\n').map((l) => JSON.parse(l));
    rows.should.have.length(2);
    rows.forEach((row) => row.should.have.properties({ type: 'bpms_instance_change', eventId: 'fromfile1', status: 200, verified: true }));
    server.events.should.have.length(1);
    server.events[0].payload.title.should.equal('李四提交的报销');
  });

  it('takes the secrets and the receive id from the environment', async function () {
    const env = { DINGTALK_TOKEN: APP.token, DINGTALK_AES_KEY: APP.aesKey, DINGTALK_APP_KEY: APP.appKey };
    const r = await run(['check-url', '--url', server.url], env);
    r.code.should.equal(0);
    r.out.should.match(/^check_url  HTTP 200  \d+ ms  verified\n1 of 1 reply verified$/);
  });

  it('exits 1 and says why when the receiver refuses a push (wrong token, wrong receive id)', async function () {
    const wrongToken = await run(['send', ...args, '--token', 'wrongToken42', '--type', 'check_in']);
    wrongToken.code.should.equal(1);
    wrongToken.out.should.match(/HTTP 403 .*NOT VERIFIED: HTTP 403: bad-signature: signature does not match \(check the token\)/);
    wrongToken.out.should.containEql('0 of 1 reply verified');
    const wrongId = await run(['send', ...args, '--receive-id', 'dingwrongapp', '--type', 'check_in', '--json']);
    wrongId.code.should.equal(1);
    JSON.parse(wrongId.out).should.have.properties({ status: 400, verified: false });
    JSON.parse(wrongId.out).problem.should.match(/receive-id-mismatch.*"dingwrongapp"/);
  });

  it('a wrong path gets one line, "no DingTalk receiver at this URL (HTTP 404)", not the HTML page, and nothing more is pushed', async function () {
    // What Node-RED answers for a path no node serves: Express's own HTML 404 page.
    const express = require('express');
    const app = express();
    let requests = 0;
    app.use((req, res, next) => { requests += 1; next(); });
    const other = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
    try {
      const url = `http://127.0.0.1:${other.address().port}/dingtalk/event`;
      const r = await run(['send', ...args, '--url', url, '--type', 'all']);
      r.code.should.equal(1);
      r.out.should.equal(`no DingTalk receiver at this URL (HTTP 404): ${url} (check --url: the path of a deployed dingtalk-event-in node)`);
      r.out.should.not.match(/<|Cannot POST/);
      requests.should.equal(1);
      const json = await run(['check-url', ...args, '--url', url, '--json']);
      json.code.should.equal(1);
      JSON.parse(json.out).should.have.properties({ status: 404, verified: false, problem: 'no DingTalk receiver at this URL (HTTP 404)' });
      // Other error pages are named by their title, not printed whole.
      app.use((req, res) => res.status(502).send('<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>'));
      const proxied = await run(['check-url', ...args, '--url', `http://127.0.0.1:${other.address().port}/`]);
      proxied.out.should.match(/NOT VERIFIED: HTTP 502: HTML page "502 Bad Gateway"\n/);
    } finally {
      other.closeAllConnections();
      other.close();
    }
  });

  it('exits 1 when nothing answers', async function () {
    const r = await run(['check-url', ...args.slice(2), '--url', 'http://127.0.0.1:9/dingtalk/events']);
    r.code.should.equal(1);
    r.out.should.match(/^check_url  NOT VERIFIED: no answer: ECONNREFUSED/);
  });

  it('exits 2 with a pointer to --help for usage errors, before sending anything', async function () {
    const cases = [
      [[], /^dingtalk-sim: push signed/],
      [['launch'], /unknown command "launch"[\s\S]*dingtalk-sim --help/],
      [['send', ...args], /give either --type or --file/],
      [['send', ...args, '--type', 'check_in', '--file', 'x.json'], /give either --type or --file/],
      [['send', ...args, '--type', 'no_such_event,check_in'], /unknown event type "no_such_event"; run "dingtalk-sim types"/],
      // a mistyped type gets the nearest known one: a swap, a missing prefix, a wrong letter
      [['send', ...args, '--type', 'bpms_instance_chnage'], /unknown event type "bpms_instance_chnage" \(did you mean "bpms_instance_change"\?\); run/],
      [['send', ...args, '--type', 'check_in,instance_change'], /unknown event type "instance_change" \(did you mean "bpms_instance_change"\?\)/],
      [['send', ...args, '--type', 'user_add_orgg,org_dept_creat'], /"user_add_orgg" \(did you mean "user_add_org"\?\), "org_dept_creat" \(did you mean "org_dept_create"\?\)/],
      [['send', ...args, '--type', 'check_in', '--count', '0'], /--count must be a positive integer/],
      [['send', ...args, '--type', 'check_in', '--verbose'], /Unknown option '--verbose'/],
      [['send', ...args, '--file', '/no/such/file.json'], /cannot read --file/],
      [['send', ...args.slice(0, 4), '--type', 'check_in'], /--token is required \(or set DINGTALK_TOKEN\)/],
      [['send', ...args, '--aes-key', 'tooShort', '--type', 'check_in'], /aesKey must be 43 characters, got 8/],
      [['send', ...args, '--url', 'ftp://127.0.0.1/', '--type', 'check_in'], /--url must be an http/],
      [['check-url', ...args, '--signature-param', 'sig'], /--signature-param must be msg_signature or signature/],
    ];
    for (const [argv, message] of cases) {
      const r = await run(argv);
      r.code.should.equal(2, argv.join(' '));
      r.err.should.match(message);
      if (argv.length > 0) r.err.should.match(/Run "dingtalk-sim .*--help" for usage\./);
    }
    server.events.should.be.empty();
  });

  it('prints help for each command, naming the environment variables', async function () {
    for (const command of ['send', 'check-url']) {
      const r = await run([command, '--help']);
      r.code.should.equal(0);
      r.out.should.containEql(`dingtalk-sim ${command}`).and.containEql('DINGTALK_TOKEN').and.containEql('DINGTALK_AES_KEY');
    }
    (await run(['types', '-h'])).out.should.startWith('Usage: dingtalk-sim types');
    (await run(['--help'])).code.should.equal(0);
  });

  it('lists the types with group and labels', async function () {
    const r = await run(['types']);
    r.code.should.equal(0);
    const lines = r.out.split('\n');
    lines.should.have.length(sampleEventTypes().length);
    lines.find((l) => l.startsWith('bpms_instance_change')).should.match(/approval\s+Approval instance changed \/ 审批实例开始、结束$/);
    const json = JSON.parse((await run(['types', '--json'])).out);
    json[0].should.have.properties(['type', 'group', 'label']);
  });
});
