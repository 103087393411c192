'use strict';
// Core `http in` leaks or steals routes on partial redeploys (node-red-notes.md §4.3). These tests
// redeploy in every mode and check that exactly the deployed receivers answer, and that neither the
// express stack nor our route table grows.
require('should');
const { makePush } = require('../support/push');
const { routeTableFor } = require('../../core/http/route-table');
const {
  helper, load, unload, request, standardFlow, standardCredentials, collect, callsOn, state,
} = require('../support/runtime');
const { waitFor } = require('../support/wait');

const pushTo = (path, eventId) => {
  const p = makePush(JSON.stringify({ EventType: 'user_add_org', eventId }));
  return request(`${path}?${p.query}`, { body: p.body });
};
const stackSize = () => state.httpNode._router.stack.length;
const table = () => routeTableFor(state.httpNode);

describe('dingtalk-event-in redeploys', function () {
  before(() => helper.startServer());
  after(() => helper.stopServer());
  afterEach(() => unload());

  for (const mode of ['full', 'flows', 'nodes']) {
    it(`${mode} redeploy that changes the path: old path 404, new path answers, nothing leaks`, async function () {
      await load(standardFlow({ path: '/a' }), standardCredentials());
      (await pushTo('/a', 'e1')).status.should.equal(200);
      const stack = stackSize();
      table().claims.should.equal(1);

      for (let i = 0; i < 5; i++) {
        await helper.setFlows(standardFlow({ path: i % 2 ? '/a' : '/b' }), mode, standardCredentials());
      }
      // last deploy (i = 4) put the receiver on /b
      (await pushTo('/a', 'e2')).status.should.equal(404);
      const res = await pushTo('/b', 'e3');
      res.status.should.equal(200);
      stackSize().should.equal(stack);
      table().paths().should.eql(['/b']);
      table().claims.should.equal(1);
    });

    it(`${mode} redeploy of an unchanged flow keeps one route that still emits`, async function () {
      await load(standardFlow(), standardCredentials());
      await helper.setFlows(standardFlow(), mode, standardCredentials());
      const out = collect();
      (await pushTo('/dingtalk/events', 'same')).status.should.equal(200);
      await waitFor(() => out.length >= 1, { what: 'the event emitted' });
      out.length.should.equal(1);
      table().claims.should.equal(1);
    });
  }

  it('removing every receiver (full deploy of an empty flow) leaves no route', async function () {
    await load(standardFlow(), standardCredentials());
    const stack = stackSize();
    await helper.setFlows([], 'full');
    (await pushTo('/dingtalk/events', 'gone')).status.should.equal(404);
    table().size.should.equal(0);
    table().claims.should.equal(0);
    stackSize().should.equal(stack);
  });

  it('a second receiver on a taken path goes red and waits; the first keeps working through partial deploys', async function () {
    const flow = (secondName) => [
      ...standardFlow(),
      { id: 'in2', type: 'dingtalk-event-in', name: secondName, app: 'app', url: '/dingtalk/events/', wires: [['out2']] },
      { id: 'out2', type: 'helper' },
    ];
    await load(flow('copy'), standardCredentials());
    const second = helper.getNode('in2');
    callsOn(second, 'status').pop()[0].should.have.properties({ fill: 'red' });
    callsOn(second, 'status').pop()[0].text.should.startWith('dingtalk-event-in.status.duplicate-path');
    callsOn(second, 'error').pop()[0].should.startWith('dingtalk-event-in.errors.duplicate-path');

    // a nodes-only deploy that restarts just the duplicate must not take the route from the first
    await helper.setFlows(flow('copy, renamed'), 'nodes', standardCredentials());
    let out = collect('out');
    let out2 = collect('out2');
    (await pushTo('/dingtalk/events', 'one')).status.should.equal(200);
    await waitFor(() => out.length >= 1, { what: 'the event emitted by the first receiver' });
    out.length.should.equal(1);
    out2.length.should.equal(0);

    // deleting the first (nodes-only deploy) hands the path to the waiting second
    const withoutFirst = flow('copy, renamed').filter((n) => n.id !== 'in' && n.id !== 'out');
    await helper.setFlows(withoutFirst, 'nodes', standardCredentials());
    out2 = collect('out2');
    (await pushTo('/dingtalk/events', 'two')).status.should.equal(200);
    await waitFor(() => out2.length >= 1 && callsOn(helper.getNode('in2'), 'status').pop()?.[0].fill === 'green', { what: 'the event on the second receiver, green' });
    out2.map((m) => m.dingtalk.eventId).should.eql(['two']);
    callsOn(helper.getNode('in2'), 'status').pop()[0].should.have.properties({ fill: 'green' });
    table().claims.should.equal(1);
  });
});
