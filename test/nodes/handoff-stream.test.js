'use strict';
// A Stream event lost in a deploy that removed every stream-in node of its app: the tracker lets it go (its
// row waits in the store for the next start) instead of keeping Node-RED's messaging hooks on for good.
require('should');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const streamModule = require('../../nodes/dingtalk-stream-in.js').default;
const { startFakeGateway, frame, until } = require('../support/fake-gateway');
const { freshStore, holdModule, state } = require('../support/runtime');

helper.init(require.resolve('node-red'));
const { withHooks, hooks } = require('../support/hooks');
const APPS = { dingappone: 'stream-secret-one' };

describe('Stream hand-off after the stream-in nodes are removed', function () {
  this.timeout(30000);
  let gateway;
  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(async () => {
    gateway = await startFakeGateway(APPS);
    freshStore();
    helper.settings({ ...helper.settings(), dingtalkAppApiUrl: gateway.url, dingtalkEventInHandoffSeconds: 4 });
  });
  afterEach(async () => { await helper.unload(); await gateway.close(); helper.settings({ ...helper.settings(), dingtalkEventInHandoffSeconds: undefined }); });

  for (const [mode, keep] of [['nodes', false], ['full', false], ['nodes', true]]) {
    it(`${mode} deploy${keep ? ' (control: a stream-in node stays)' : ''}: the messaging hooks do not stay on for good`, async function () {
      state.held = [];
      const app = { id: 'app1', type: 'dingtalk-app', appKey: 'dingappone', callbackStyle: 'event-subscription' };
      await helper.load([withHooks(appModule), streamModule, holdModule], [
        { id: 'tab', type: 'tab' }, app,
        { id: 's1', z: 'tab', type: 'dingtalk-stream-in', app: 'app1', wires: [['hold']] },
        { id: 'hold', z: 'tab', type: 'dingtalk-test-hold' },
      ], { app1: { appSecret: APPS.dingappone } });
      await until('connected', () => gateway.open('dingappone').length === 1);
      const conn = gateway.current('dingappone');
      gateway.send(conn, frame('user_add_org.json'));
      await until('held', () => state.held.length === 1);
      hooks.has('onSend.dingtalkHandoff').should.be.true();
      // The user removes the stream flow; the app config node stays (other nodes may use it).
      await helper.setFlows([{ id: 'tab', type: 'tab' }, app, ...(keep ? [{ id: 's2', z: 'tab', type: 'dingtalk-stream-in', app: 'app1', wires: [[]] }] : [])], mode, { app1: { appSecret: APPS.dingappone } });
      // Within the hand-off limit (4 s here) and a few sweeps: every message of every flow would otherwise still pay for them.
      await until('the hooks removed', () => !hooks.has('onSend.dingtalkHandoff'), 12000);
    });
  }
});
