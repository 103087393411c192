'use strict';
// dingtalk-api and dingtalk-callback-admin in a Node-RED runtime, against the fake DingTalk server.
require('should');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const apiModule = require('../../nodes/dingtalk-api.js').default;
const adminModule = require('../../nodes/dingtalk-callback-admin.js').default;
const { startFakeDingTalk } = require('../support/fake-dingtalk');
const { callsOn } = require('../support/runtime');
const { waitFor } = require('../support/wait');

helper.init(require.resolve('node-red'));

const APP = { appKey: 'dingfakeappkey', appSecret: 'fake-app-secret-Do-Not-Log', token: 'cbTokenValue', aesKey: 'kT7vQ2mZp9LxR4sNw8YbC3dF6gHj1KoE5uAiV0rWq3j' };

describe('OpenAPI nodes', function () {
  let fake;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(async () => {
    fake = await startFakeDingTalk(APP);
    helper.settings({ ...helper.settings(), dingtalkAppOapiUrl: fake.url, dingtalkAppApiUrl: fake.url });
  });
  afterEach(async () => {
    await helper.unload();
    await fake.close();
  });

  async function load(nodes) {
    await helper.load([appModule, apiModule, adminModule], [
      { id: 'tab', type: 'tab' },
      { id: 'app', type: 'dingtalk-app', appKey: APP.appKey, corpId: 'ding1', callbackStyle: 'register-call-back' },
      ...nodes.map((n) => ({ z: 'tab', app: 'app', wires: [['out']], ...n })),
      { id: 'out', z: 'tab', type: 'helper' },
    ], { app: { appSecret: APP.appSecret, token: APP.token, aesKey: APP.aesKey } });
    const out = [];
    helper.getNode('out').on('input', (m) => out.push(m));
    return out;
  }

  /** Everything the runtime logged or the nodes reported, as one string. */
  const everythingLogged = (ids) => JSON.stringify([
    helper.log().args,
    ...ids.flatMap((id) => ['log', 'warn', 'error', 'status'].map((m) => callsOn(helper.getNode(id), m))),
  ]);

  // (a node id must not equal a property value such as family "api": Node-RED would take it for a config reference)
  it('dingtalk-api calls both families with one cached token; the message sets method, path, query and body', async function () {
    const out = await load([{ id: 'caller', type: 'dingtalk-api', family: 'api', method: 'GET', path: '/v1.0/contact/users/me' }]);
    const api = helper.getNode('caller');
    for (let i = 0; i < 5; i++) api.receive({ payload: {} });
    api.receive({ family: 'oapi', method: 'POST', path: '/topapi/v2/user/get', payload: { userid: 'manager7' }, query: { language: 'zh_CN' } });
    await waitFor(() => out.length >= 6, { what: 'six answers' });
    out.length.should.equal(6);
    out[0].payload.nick.should.equal('王芳');
    out[5].payload.result.userid.should.equal('manager7');
    fake.state.tokenRequests.should.equal(1);
    fake.state.calls.find((c) => c.path === '/topapi/v2/user/get').query.language.should.equal('zh_CN');
    callsOn(api, 'status').pop()[0].should.have.properties({ fill: 'green', text: 'dingtalk-api.status.ok' });
  });

  it('dingtalk-api refreshes an expired token once and reports API errors with their code', async function () {
    const out = await load([{ id: 'caller', type: 'dingtalk-api', family: 'api', method: 'GET', path: '/v1.0/contact/users/me' }]);
    const api = helper.getNode('caller');
    api.receive({});
    await waitFor(() => out.length >= 1, { what: 'the first answer' });
    fake.state.expireAll = true;
    api.receive({});
    await waitFor(() => out.length >= 2, { what: 'the answer after the token expired' });
    out.length.should.equal(2);
    fake.state.tokenRequests.should.equal(2);
    api.receive({ path: '/v1.0/no/such/api' });
    await waitFor(() => callsOn(api, 'error').length >= 1, { what: 'the error' });
    const errors = callsOn(api, 'error');
    errors.length.should.equal(1);
    errors[0][0].message.should.equal('dingtalk-api.errors.api');
    errors[0][0].code.should.equal('NotFound');
    everythingLogged(['caller', 'app']).should.not.containEql(APP.appSecret);
    for (const token of fake.state.tokens) everythingLogged(['caller', 'app']).should.not.containEql(token);
  });

  it('enrich approval: the instance and its form values go on the message', async function () {
    fake.state.instances['proc-9'] = { title: '王芳提交的报销申请', formComponentValues: [{ id: 'a', name: '金额', value: '1200' }] };
    const out = await load([{ id: 'caller', type: 'dingtalk-api', preset: 'enrich-approval' }]);
    const event = { EventType: 'bpms_instance_change', processInstanceId: 'proc-9', type: 'finish', result: 'agree' };
    helper.getNode('caller').receive({ topic: 'bpms_instance_change', payload: event });
    helper.getNode('caller').receive({ topic: 'bpms_instance_change', payload: { EventType: 'x' } });
    await waitFor(() => out.length >= 1 && callsOn(helper.getNode('caller'), 'error').length >= 1, { what: 'the enriched message and the error' });
    out.length.should.equal(1);
    out[0].payload.should.eql(event);
    out[0].formValues.should.eql({ 金额: '1200' });
    out[0].approval.title.should.equal('王芳提交的报销申请');
    callsOn(helper.getNode('caller'), 'error')[0][0].message.should.equal('dingtalk-api.errors.no-instance');
  });

  it('dingtalk-callback-admin registers with the app\'s token and aesKey, and reads back without them', async function () {
    const out = await load([{ id: 'admin', type: 'dingtalk-callback-admin', action: 'get', url: 'https://hub.example.com/dingtalk/events', tags: [] }]);
    const admin = helper.getNode('admin');
    admin.receive({});
    await waitFor(() => callsOn(admin, 'error').length >= 1, { what: 'the not-registered error' });
    callsOn(admin, 'error')[0][0].code.should.equal('71007');
    admin.receive({ action: 'register' });
    await waitFor(() => fake.state.registration, { what: 'the registration' });
    fake.state.registration.should.have.properties({ token: APP.token, aes_key: APP.aesKey, url: 'https://hub.example.com/dingtalk/events' });
    fake.state.registration.call_back_tag.should.containEql('bpms_instance_change').and.not.containEql('check_url');
    admin.receive({ action: 'update', payload: { url: 'https://hub.example.com/v2', tags: ['user_add_org'] } });
    await waitFor(() => fake.state.registration.url === 'https://hub.example.com/v2', { what: 'the update' });
    admin.receive({ action: 'get' });
    await waitFor(() => out[out.length - 1]?.action === 'get', { what: 'the answer to get' });
    const got = out.pop().payload;
    got.should.have.properties({ url: 'https://hub.example.com/v2', call_back_tag: ['user_add_org'] });
    got.should.not.have.properties(['token', 'aes_key']);
    admin.receive({ action: 'nonsense' });
    await waitFor(() => String(callsOn(admin, 'error').pop()?.[0].message).endsWith('errors.action'), { what: 'the unknown action refused' });
    callsOn(admin, 'error').pop()[0].message.should.equal('dingtalk-callback-admin.errors.action');
    everythingLogged(['admin']).should.not.containEql(APP.aesKey);
  });

  it('serves the app dialog: check and register the callback of a deployed app', async function () {
    await load([{ id: 'admin', type: 'dingtalk-callback-admin', action: 'get' }]);
    const first = await helper.request().post('/dingtalk-app/app/callback').send({ action: 'get' }).expect(502);
    first.body.error.should.equal('71007');
    await helper.request().post('/dingtalk-app/app/callback').send({ action: 'register', url: 'not a url' }).expect(400);
    await helper.request().post('/dingtalk-app/app/callback').send({ action: 'register', url: 'https://hub.example.com/dt', tags: ['user_add_org'] }).expect(200);
    fake.state.registration.should.have.properties({ url: 'https://hub.example.com/dt', token: APP.token, call_back_tag: ['user_add_org'] });
    const got = await helper.request().post('/dingtalk-app/app/callback').send({ action: 'get' }).expect(200);
    got.body.should.have.properties({ url: 'https://hub.example.com/dt' });
    JSON.stringify(got.body).should.not.containEql(APP.token);
    await helper.request().post('/dingtalk-app/nope/callback').send({ action: 'get' }).expect(404);
    await helper.request().post('/dingtalk-app/app/callback').send({ action: 'drop' }).expect(400);
  });

  it('dingtalk-callback-admin reads every page of the failed list', async function () {
    fake.state.failedPages = [
      [{ call_back_tag: 'user_add_org', event_time: 1, user_add_org: { userid: ['a'], corpid: 'c' } }],
      [{ call_back_tag: 'bpms_instance_change', event_time: 2, bpms_instance_change: { bpmsCallBackData: { processInstanceId: 'p' }, corpid: 'c' } }],
    ];
    const out = await load([{ id: 'admin', type: 'dingtalk-callback-admin', action: 'failed' }]);
    helper.getNode('admin').receive({});
    await waitFor(() => out.length >= 1, { what: 'the failed list' });
    out.length.should.equal(1);
    out[0].pages.should.equal(2);
    out[0].payload.map((e) => e.call_back_tag).should.eql(['user_add_org', 'bpms_instance_change']);
  });
});
