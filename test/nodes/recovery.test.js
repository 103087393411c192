'use strict';
// Recovery of missed pushes by dingtalk-event-in, against the fake DingTalk: every page of the
// failed list is stored before the next is requested, each missed event is emitted once, and an event
// that also arrived live is not emitted again.
require('should');
const http = require('node:http');
const Database = require('better-sqlite3');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const eventInModule = require('../../nodes/dingtalk-event-in.js').default;
const { startFakeDingTalk } = require('../support/fake-dingtalk');
const { APP, makePush } = require('../support/push');
const { freshStore, settle } = require('../support/runtime');
const { waitFor } = require('../support/wait');
const path = require('node:path');

helper.init(require.resolve('node-red'));
const { withHooks } = require('../support/hooks');
const SECRET = 'recovery-app-secret-Do-Not-Log';

describe('dingtalk-event-in recovery of missed pushes', function () {
  let fake;
  let server;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(async () => {
    if (server) { server.closeAllConnections(); await new Promise((r) => server.close(r)); }
    await helper.unload();
    await fake.close();
  });

  it('stores each page before the next, emits each missed event once, and skips those received live', async function () {
    fake = await startFakeDingTalk({ appKey: APP.appKey, appSecret: SECRET });
    const dir = freshStore();
    const storeFile = path.join(dir, 'hub.sqlite');
    helper.settings({ ...helper.settings(), dingtalkAppOapiUrl: fake.url, dingtalkAppApiUrl: fake.url });
    let httpNode;
    await helper.load([withHooks(appModule), (RED) => { httpNode = RED.httpNode; return eventInModule(RED); }], [
      { id: 'tab', type: 'tab' },
      { id: 'app', type: 'dingtalk-app', appKey: APP.appKey, callbackStyle: 'event-subscription' },
      { id: 'in', z: 'tab', type: 'dingtalk-event-in', app: 'app', url: '/dt', recover: true, recoverInterval: 0.01, wires: [['out']] },
      { id: 'out', z: 'tab', type: 'helper' },
    ], { app: { appSecret: SECRET, token: APP.token, aesKey: APP.aesKey } });
    const out = [];
    helper.getNode('out').on('input', (m) => out.push(m));
    server = http.createServer(httpNode);
    await new Promise((r) => server.listen(0, '127.0.0.1', r));

    // a legacy push arrives live
    const live = { EventType: 'user_add_org', TimeStamp: 1717000001456, UserId: ['zhangsan'], CorpId: 'dingcorp1' };
    const p = makePush(JSON.stringify(live));
    (await fetch(`http://127.0.0.1:${server.address().port}/dt?${p.query}`, { method: 'POST', body: p.body, headers: { 'content-type': 'application/json' } })).status.should.equal(200);

    // DingTalk also lists it as failed (its reply was lost), with two events that never arrived
    const stored = [];
    fake.state.onFailedRead = (n) => {
      const db = new Database(storeFile, { readonly: true });
      stored[n] = db.prepare('SELECT COUNT(*) FROM inbox').pluck().get();
      db.close();
    };
    fake.state.failedReads = 0;
    fake.state.failedPages = [
      [
        { call_back_tag: 'user_add_org', event_time: 1717000001456, user_add_org: { userid: ['zhangsan'], corpid: 'dingcorp1' } },
        { call_back_tag: 'bpms_instance_change', event_time: 1717000002000,
          bpms_instance_change: { bpmsCallBackData: { processInstanceId: 'proc-77', type: 'finish', result: 'agree', title: '报销' }, corpid: 'dingcorp1' } },
      ],
      [{ call_back_tag: 'org_dept_create', event_time: 1717000003000, org_dept_create: { deptid: [12], corpid: 'dingcorp1' } }],
    ];
    await waitFor(() => fake.state.failedReads >= 2 && fake.state.failedPages.length <= 1 && out.length >= 3, { what: 'both pages read and emitted' });
    await settle(1000); // bounded: further intervals read an empty list; nothing more may come out

    out.map((m) => `${m.dingtalk.source}:${m.topic}`).should.eql(['http:user_add_org', 'recovery:bpms_instance_change', 'recovery:org_dept_create']);
    out[1].payload.should.have.properties({ EventType: 'bpms_instance_change', CorpId: 'dingcorp1', processInstanceId: 'proc-77', result: 'agree' });
    out[2].payload.deptId.should.eql([12]);
    // page 1 (2 entries, 1 new) was on disk before page 2 was requested
    stored[2].should.equal(2);
    fake.state.calls.filter((c) => c.path === '/call_back/get_call_back_failed_result').length.should.be.aboveOrEqual(3);
    JSON.stringify(helper.log().args).should.not.containEql(SECRET);
  });
});
