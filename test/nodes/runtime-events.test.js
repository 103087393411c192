'use strict';
// One flows:started listener per runtime: receivers with recovery on and apps subscribe through
// nodes/runtime-events, so a large flow deployed again and again neither adds listeners nor makes Node
// print MaxListenersExceededWarning; each receiver still recovers missed pushes once per start.
require('should');
const helper = require('node-red-node-test-helper');
const appModule = require('../../nodes/dingtalk-app.js').default;
const eventInModule = require('../../nodes/dingtalk-event-in.js').default;
const streamModule = require('../../nodes/dingtalk-stream-in.js').default;
const dispatchModule = require('../../nodes/dingtalk-dispatch.js').default;
const { startFakeDingTalk } = require('../support/fake-dingtalk');
const { until } = require('../support/fake-gateway');
const { APP } = require('../support/push');
const { freshStore } = require('../support/runtime');

helper.init(require.resolve('node-red'));
const { withHooks } = require('../support/hooks');
const SECRET = 'runtime-events-app-secret';
const APPS = ['app1', 'app2', 'app3'];

/** `receivers` dingtalk-event-in nodes with recovery on, spread over three apps, each with a dispatch node. */
function flow(receivers) {
  const nodes = [{ id: 'tab', type: 'tab' }];
  for (const app of APPS) nodes.push({ id: app, type: 'dingtalk-app', appKey: APP.appKey, callbackStyle: 'event-subscription' });
  for (let i = 0; i < receivers; i += 1) {
    nodes.push({ id: `in${i}`, z: 'tab', type: 'dingtalk-event-in', app: APPS[i % APPS.length], url: `/dt/${i}`, recover: true, recoverInterval: 1440, wires: [[`d${i}`]] });
    nodes.push({ id: `d${i}`, z: 'tab', type: 'dingtalk-dispatch', url: 'http://127.0.0.1:9/unused', wires: [[], []] });
  }
  for (const app of APPS) nodes.push({ id: `s-${app}`, z: 'tab', type: 'dingtalk-stream-in', app });
  return nodes;
}
const credentials = Object.fromEntries(APPS.map((app) => [app, { appSecret: SECRET, token: APP.token, aesKey: APP.aesKey }]));

describe('one flows:started listener per runtime', function () {
  let fake;
  let events;
  const warnings = [];
  const onWarning = (w) => warnings.push(w);
  before(() => helper.startServer());
  after(() => helper.stopServer());
  beforeEach(async () => {
    fake = await startFakeDingTalk({ appKey: APP.appKey, appSecret: SECRET });
    freshStore();
    // The stream-in nodes connect to nothing that answers: only their listeners matter here.
    helper.settings({ ...helper.settings(), dingtalkAppOapiUrl: fake.url, dingtalkAppApiUrl: fake.url });
    warnings.length = 0;
    process.on('warning', onWarning);
  });
  afterEach(async () => {
    process.removeListener('warning', onWarning);
    await helper.unload();
    await fake.close();
  });

  const recoveries = () => fake.state.calls.filter((c) => c.path === '/call_back/get_call_back_failed_result').length;
  const load = (receivers) => helper.load(
    [withHooks(appModule), (RED) => { events = RED.events; return eventInModule(RED); }, streamModule, dispatchModule],
    flow(receivers),
    credentials,
  );

  it('keeps the number of flows:started listeners whatever the number of receivers, over repeated full deploys', async function () {
    // Counted as the event is emitted, when every listener the new nodes added is still there (a `once`
    // listener is gone right after), by a listener of the test's own put first.
    const counted = [];
    const count = () => counted.push(events.listenerCount('flows:started'));
    const countFirst = () => events.prependListener('flows:started', count);
    await load(1);
    await until('the one receiver recovered', () => recoveries() === 1);
    const stoppingWithOne = events.listenerCount('flows:stopping');
    countFirst();
    await helper.setFlows(flow(1), 'full', credentials);
    await until('the one receiver recovered again', () => recoveries() === 2);
    const withOne = counted.pop();
    await helper.unload();

    await load(12);
    await until('twelve receivers recovered', () => recoveries() === 14);
    counted.length = 0; // compared with deploys alike: setFlows listens for the start itself
    for (let deploy = 1; deploy <= 4; deploy += 1) {
      await helper.setFlows(flow(12), 'full', credentials);
      // every receiver of the new deploy recovers once, through the one listener
      await until(`recoveries after deploy ${deploy}`, () => recoveries() === 14 + 12 * deploy);
      events.listenerCount('flows:stopping').should.equal(stoppingWithOne);
    }
    events.removeListener('flows:started', count);
    counted.should.eql([withOne, withOne, withOne, withOne]);
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message).should.eql([]);
    recoveries().should.equal(14 + 12 * 4); // once per receiver per start, no more
  });

  it('a Modified Nodes deploy that adds a receiver recovers with that receiver only', async function () {
    await load(2);
    await until('two receivers recovered', () => recoveries() === 2);
    // A "Modified Nodes" deploy that adds a receiver starts only that one: one more recovery, not three.
    const more = flow(3);
    await helper.setFlows(more, 'nodes', credentials);
    await until('the new receiver recovered', () => recoveries() === 3);
    await new Promise((r) => setTimeout(r, 200));
    recoveries().should.equal(3);
  });
});
