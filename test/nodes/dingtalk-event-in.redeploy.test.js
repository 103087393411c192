'use strict';
// Core `http in` leaks or steals routes on partial redeploys (node-red-notes.md §4.3). These tests
// redeploy in every mode and check that exactly the deployed receivers answer, and that neither the
// express stack nor our route table grows.
require('should');
const { makePush, openReply } = require('../support/push');
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

  for (const mode of ['nodes', 'flows', 'full']) {
    it(`a ${mode} deploy that restarts the owner of a shared path gives the path back to the owner, not to the second receiver`, async function () {
      // The case: a configured receiver, then an unconfigured one on the same path (an imported
      // example next to the demo). Redeploying only the configured one used to hand the path to the other.
      const [appNode] = standardFlow();
      const owner = (name) => ({ id: 'in', type: 'dingtalk-event-in', name, app: 'app', url: '/dingtalk/events', wires: [['out']] });
      const second = { id: 'in2', type: 'dingtalk-event-in', name: 'imported', app: '', url: '/dingtalk/events/', wires: [[]] };
      const out = { id: 'out', type: 'helper' };
      await load([appNode, owner('owner'), out, second], standardCredentials());
      callsOn(helper.getNode('in2'), 'error').length.should.equal(1);
      // Redeployed flows list the second receiver first, so a full deploy builds it before the owner.
      for (const name of ['owner, renamed', 'owner, renamed again']) {
        await helper.setFlows([appNode, second, owner(name), out], mode, standardCredentials());
        const messages = collect('out');
        const res = await pushTo('/dingtalk/events', `after ${name}`);
        res.status.should.equal(200, res.text);
        openReply(res.json).should.equal('success');
        await waitFor(() => messages.some((m) => m.dingtalk.eventId === `after ${name}`), { what: `the event after ${name}` });
        // (an event of the previous round may come again, flagged redelivered, when the deploy caught
        // it before its hand-off was recorded: at-least-once, not the point here)
        messages.filter((m) => !m.dingtalk.redelivered).map((m) => m.dingtalk.eventId).should.eql([`after ${name}`]);
      }
      // the second never took over: it shows the conflict naming the owner, and logged it once
      const waiting = helper.getNode('in2');
      const last = callsOn(waiting, 'status').pop()[0];
      last.should.have.properties({ fill: 'red' });
      last.text.should.startWith('dingtalk-event-in.status.duplicate-path');
      last.text.should.containEql('owner, renamed again');
      callsOn(waiting, 'error').length.should.equal(1);
      callsOn(waiting, 'error')[0][0].should.startWith('dingtalk-event-in.errors.duplicate-path');
      table().claims.should.equal(2);
      table().reserved.should.equal(0);
    });
  }

  it('a deploy that disables the owner hands its path to the waiting receiver once the flows have started', async function () {
    const flow = (disabled) => [
      ...standardFlow({ extra: [{ id: 'in2', type: 'dingtalk-event-in', app: 'app', url: '/dingtalk/events', wires: [['out2']] }, { id: 'out2', type: 'helper' }] })
        .map((n) => (n.id === 'in' ? { ...n, d: disabled } : n)),
    ];
    await load(flow(false), standardCredentials());
    await helper.setFlows(flow(true), 'nodes', standardCredentials());
    const out2 = collect('out2');
    (await pushTo('/dingtalk/events', 'to-second')).status.should.equal(200);
    await waitFor(() => out2.length >= 1, { what: 'the event on the second receiver' });
    out2.map((m) => m.dingtalk.eventId).should.eql(['to-second']);
    table().claims.should.equal(1);
    table().reserved.should.equal(0);
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

  // A path reserved for a receiver being redeployed is no conflict yet: the reservation may end with
  // the deploy (its receiver was deleted, or moved to the path the newcomer leaves).
  for (const mode of ['full', 'flows', 'nodes']) {
    it(`a ${mode} deploy that swaps the paths of two receivers logs no conflict and serves both`, async function () {
      const [appNode] = standardFlow();
      const rx = (id, url) => ({ id, type: 'dingtalk-event-in', app: 'app', url, wires: [[]] });
      await load([appNode, rx('a', '/p'), rx('b', '/q')], standardCredentials());
      await helper.setFlows([appNode, rx('a', '/q'), rx('b', '/p')], mode, standardCredentials());
      (await pushTo('/p', 'to-b')).status.should.equal(200);
      (await pushTo('/q', 'to-a')).status.should.equal(200);
      for (const id of ['a', 'b']) {
        callsOn(helper.getNode(id), 'error').should.eql([]);
        callsOn(helper.getNode(id), 'status').pop()[0].should.have.properties({ fill: 'green' });
      }
      table().claims.should.equal(2);
    });
  }

  it('a full deploy that replaces a receiver by a new one on its path logs no conflict', async function () {
    const [appNode] = standardFlow();
    const rx = (id) => ({ id, type: 'dingtalk-event-in', app: 'app', url: '/dingtalk/events', wires: [[]] });
    await load([appNode, rx('old')], standardCredentials());
    await helper.setFlows([appNode, rx('new')], 'full', standardCredentials());
    (await pushTo('/dingtalk/events', 'to-new')).status.should.equal(200);
    callsOn(helper.getNode('new'), 'error').should.eql([]);
    callsOn(helper.getNode('new'), 'status').pop()[0].should.have.properties({ fill: 'green' });
    table().claims.should.equal(1);
  });

  it('a real conflict behind a reservation is still reported once, after the deploy', async function () {
    // The owner is redeployed (its path reserved) in the same deploy that adds a second receiver.
    const [appNode] = standardFlow();
    const rx = (id, name) => ({ id, type: 'dingtalk-event-in', name, app: 'app', url: '/dingtalk/events', wires: [[]] });
    await load([appNode, rx('owner', 'one')], standardCredentials());
    await helper.setFlows([appNode, rx('second', 'two'), rx('owner', 'one, renamed')], 'full', standardCredentials());
    await waitFor(() => callsOn(helper.getNode('second'), 'error').length > 0, { what: 'the conflict reported' });
    callsOn(helper.getNode('second'), 'error').map((a) => a[0]).should.eql([
      'dingtalk-event-in.errors.duplicate-path {"path":"/dingtalk/events","holder":"one, renamed"}',
    ]);
    callsOn(helper.getNode('second'), 'status').pop()[0].should.have.properties({ fill: 'red' });
    (await pushTo('/dingtalk/events', 'to-owner')).status.should.equal(200);
  });
});
