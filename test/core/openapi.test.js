'use strict';
// The OpenAPI client against a local fake DingTalk that checks credentials and tokens.
const should = require('should');
const { OpenApiClient, OpenApiError } = require('../../core/openapi/client');
const { getCallback, registerCallback, deleteCallback, readFailedEvents } = require('../../core/openapi/callbacks');
const { approvalDetails } = require('../../core/openapi/approvals');
const { startFakeDingTalk } = require('../support/fake-dingtalk');

const APP = { appKey: 'dingfakeappkey', appSecret: 'fake-app-secret-Do-Not-Log' };

describe('core/openapi', function () {
  let fake;
  let client;
  let slept;
  let now;
  beforeEach(async function () {
    fake = await startFakeDingTalk(APP);
    slept = [];
    now = 1_700_000_000_000;
    client = new OpenApiClient({ ...APP, oapiUrl: fake.url, apiUrl: fake.url, now: () => now, sleep: async (ms) => { slept.push(ms); } });
  });
  afterEach(() => fake.close());

  const secretsIn = (text) => [APP.appSecret, ...fake.state.tokens].some((s) => String(text).includes(s));

  it('fetches the token once for many calls, in both API families', async function () {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2
      ? client.call({ family: 'api', path: '/v1.0/contact/users/me' })
      : client.call({ family: 'oapi', method: 'POST', path: '/topapi/v2/user/get', body: { userid: `u${i}` } }))));
    fake.state.tokenRequests.should.equal(1);
    client.tokensFetched.should.equal(1);
    results[1].nick.should.equal('王芳');
    results[0].result.userid.should.equal('u0');
    const oapiCall = fake.state.calls.find((c) => c.path === '/topapi/v2/user/get');
    oapiCall.query.access_token.should.equal(oapiCall.token);
    const apiCall = fake.state.calls.find((c) => c.path === '/v1.0/contact/users/me');
    should.not.exist(apiCall.query.access_token);
  });

  it('renews the token shortly before it expires', async function () {
    await client.call({ family: 'api', path: '/v1.0/contact/users/me' });
    now += (7200 - 6 * 60) * 1000; // within the 5-minute margin? not yet: 6 minutes left
    await client.call({ family: 'api', path: '/v1.0/contact/users/me' });
    fake.state.tokenRequests.should.equal(1);
    now += 2 * 60 * 1000; // 4 minutes left: renew
    await client.call({ family: 'api', path: '/v1.0/contact/users/me' });
    fake.state.tokenRequests.should.equal(2);
  });

  for (const family of ['oapi', 'api']) {
    it(`refreshes once after DingTalk says the token expired (${family})`, async function () {
      const call = () => (family === 'oapi'
        ? client.call({ family, method: 'POST', path: '/topapi/v2/user/get', body: { userid: 'u' } })
        : client.call({ family, path: '/v1.0/contact/users/me' }));
      await call();
      fake.state.expireAll = true;
      await call();
      fake.state.tokenRequests.should.equal(2);
      // a token that DingTalk keeps refusing is not refreshed in a loop
      const stubborn = new OpenApiClient({ ...APP, oapiUrl: fake.url, apiUrl: fake.url });
      stubborn.accessToken = async () => 'not-a-token';
      await stubborn.call({ family, path: family === 'oapi' ? '/topapi/v2/user/get' : '/v1.0/contact/users/me', body: {} }).should.be.rejectedWith(OpenApiError);
    });
  }

  it('backs off on rate limits: 90018 and the v1.0 QPS 403', async function () {
    fake.state.rateLimitNext = 2;
    (await client.call({ family: 'oapi', method: 'POST', path: '/topapi/v2/user/get', body: { userid: 'u' } })).errcode.should.equal(0);
    slept.should.eql([1000, 2000]);
    fake.state.v1RateLimitNext = 1;
    await client.call({ family: 'api', path: '/v1.0/contact/users/me' });
    slept.should.eql([1000, 2000, 1000]);
    fake.state.rateLimitNext = 10;
    const err = await client.call({ family: 'oapi', method: 'POST', path: '/topapi/v2/user/get', body: {} }).catch((e) => e);
    err.code.should.equal('90018');
  });

  it('pauses every call after an IP block, for the time DingTalk names', async function () {
    await client.call({ family: 'api', path: '/v1.0/contact/users/me' });
    fake.state.blockNext = true;
    (await client.call({ family: 'api', path: '/v1.0/contact/users/me' }).catch((e) => e)).code.should.equal('ip-blocked');
    const callsBefore = fake.state.calls.length;
    (await client.call({ family: 'oapi', path: '/topapi/v2/user/get', body: {} }).catch((e) => e)).code.should.equal('ip-blocked');
    fake.state.calls.length.should.equal(callsBefore); // did not even ask
    now += 5 * 60_000;
    await client.call({ family: 'api', path: '/v1.0/contact/users/me' });
  });

  it('an IP block answering the token request pauses calls too, without asking again', async function () {
    fake.state.blockToken = true; // no token cached yet, as right after a restart
    (await client.call({ family: 'api', path: '/v1.0/contact/users/me' }).catch((e) => e)).code.should.equal('ip-blocked');
    (await client.call({ family: 'api', path: '/v1.0/contact/users/me' }).catch((e) => e)).code.should.equal('ip-blocked');
    fake.state.tokenRequests.should.equal(1); // the second call did not reach DingTalk
    now += 5 * 60_000;
    await client.call({ family: 'api', path: '/v1.0/contact/users/me' });
    fake.state.tokenRequests.should.equal(2);
  });

  it('reports wrong credentials with DingTalk\'s code, never the secret or a token', async function () {
    const bad = new OpenApiClient({ appKey: APP.appKey, appSecret: 'wrong', oapiUrl: fake.url, apiUrl: fake.url });
    const err = await bad.call({ family: 'api', path: '/v1.0/contact/users/me' }).catch((e) => e);
    err.should.be.instanceOf(OpenApiError);
    err.code.should.equal('invalidClientIdOrSecret');
    secretsIn(err.message).should.be.false();
    const unreachable = new OpenApiClient({ ...APP, oapiUrl: 'http://127.0.0.1:1', apiUrl: 'http://127.0.0.1:1', timeoutMs: 2000 });
    const net = await unreachable.call({ family: 'oapi', path: '/x' }).catch((e) => e);
    net.code.should.equal('network');
    secretsIn(net.message).should.be.false();
    (() => new OpenApiClient({ appKey: 'x', appSecret: '' })).should.throw({ code: 'not-configured' });
  });

  it('manages the legacy callback registration, hiding the secrets DingTalk echoes', async function () {
    (await getCallback(client).catch((e) => e)).code.should.equal('71007');
    const reg = { url: 'https://hub.example.com/dingtalk/events', tags: ['user_add_org', 'bpms_instance_change'], token: 'cbToken', aesKey: 'k'.repeat(43) };
    (await registerCallback(client, reg)).errcode.should.equal(0);
    (await registerCallback(client, reg).catch((e) => e)).code.should.equal('71006');
    const got = await getCallback(client);
    got.should.have.properties({ url: reg.url, call_back_tag: reg.tags });
    got.should.not.have.properties(['token', 'aes_key']);
    (await registerCallback(client, { ...reg, url: 'https://hub.example.com/v2' }, true)).errcode.should.equal(0);
    (await getCallback(client)).url.should.equal('https://hub.example.com/v2');
    await deleteCallback(client);
    (await getCallback(client).catch((e) => e)).code.should.equal('71007');
  });

  it('reads every page of the failed list, handing each over before asking for the next', async function () {
    fake.state.failedPages = [
      [{ call_back_tag: 'user_add_org', event_time: 1, user_add_org: { userid: ['a'], corpid: 'c' } }],
      [{ call_back_tag: 'user_leave_org', event_time: 2, user_leave_org: { userid: ['b'], corpid: 'c' } }],
      [{ call_back_tag: 'org_dept_create', event_time: 3, org_dept_create: { deptid: [1], corpid: 'c' } }],
    ];
    const seen = [];
    const pages = await readFailedEvents(client, async (entries) => {
      // when a page is handed over, DingTalk has not been asked for the next one yet
      fake.state.failedReads.should.equal(seen.length + 1);
      seen.push(...entries.map((e) => e.call_back_tag));
    });
    pages.should.equal(3);
    seen.should.eql(['user_add_org', 'user_leave_org', 'org_dept_create']);
    // a failure while handing over stops the reading, so DingTalk keeps the page
    fake.state.failedPages = [[{ call_back_tag: 'x', event_time: 1, x: {} }], [{ call_back_tag: 'y', event_time: 2, y: {} }]];
    fake.state.failedReads = 0;
    await readFailedEvents(client, async () => { throw new Error('disk full'); }).should.be.rejectedWith('disk full');
    fake.state.failedReads.should.equal(1);
  });

  it('fetches approval details with form values, falling back to the old API', async function () {
    fake.state.instances['proc-1'] = { title: '王芳提交的报销申请', status: 'COMPLETED', result: 'agree',
      formComponentValues: [{ id: 'a', name: '金额', value: '1200' }, { id: 'b', name: '事由', value: '出差' }] };
    const v1 = await approvalDetails(client, 'proc-1');
    v1.source.should.equal('v1.0');
    v1.formValues.should.eql({ 金额: '1200', 事由: '出差' });
    v1.instance.title.should.equal('王芳提交的报销申请');
    fake.state.v1Forbidden = true;
    const old = await approvalDetails(client, 'proc-1');
    old.source.should.equal('topapi');
    old.formValues.should.eql({ 金额: '1200', 事由: '出差' });
    (await approvalDetails(client, 'nope').catch((e) => e)).code.should.equal('88');
  });
});
