'use strict';
// Issue 15: the hub's Prometheus counters in a real Node-RED process with the packed module. Events pushed
// and delivered, then GET <admin>/dingtalk/metrics; the counters must equal what happened, and still equal
// it after a full deploy and after Node-RED is stopped and started again (the same user directory and store).
require('should');
const { APP } = require('../support/push');
const { waitFor, installedPackageSuite, NodeRedProcess } = require('../support/node-red-process');
const { hubFlow, startEndpoint, pushEvents, waitForReceiver } = require('../support/hub-e2e');
const { parsePrometheus } = require('../support/prometheus-text');

const eventN = (i) => ({ EventType: 'bpms_instance_change', EventTime: 1717000000000 + i, CorpId: APP.corpId,
  eventId: `metrics-${String(i).padStart(4, '0')}`, processInstanceId: `proc-m-${i}`, type: 'finish', result: 'agree' });

async function scrape(red) {
  const res = await fetch(`${red.adminBase}/dingtalk/metrics`);
  res.status.should.equal(200);
  return parsePrometheus(await res.text());
}

function expectCounts(m, n) {
  m.value('dingtalk_hub_events_received_total', { app: APP.appKey, source: 'http' }).should.equal(n);
  m.value('dingtalk_hub_deliveries_total', { subscriber: 'oa1', outcome: 'delivered' }).should.equal(n);
  m.value('dingtalk_hub_queue_depth', { subscriber: 'oa1' }).should.equal(0);
  m.value('dingtalk_hub_store_up').should.equal(1);
}

describe('metrics across a full deploy and a restart (e2e, issue 15)', function () {
  this.timeout(180000);
  const e2e = installedPackageSuite();

  it('the counters equal the pushes and deliveries, after a full deploy and after a restart too', async function () {
    const endpoint = await startEndpoint();
    e2e.cleanup(() => endpoint.close());
    const red = new NodeRedProcess(e2e.install.userDir, {});
    e2e.cleanup(() => red.kill());
    await red.start();
    await red.deploy(hubFlow(endpoint.url));
    await waitForReceiver(red);

    const first = Array.from({ length: 40 }, (_, i) => eventN(i));
    (await pushEvents(red.nodeBase, first)).acknowledged.size.should.equal(40);
    await waitFor('40 deliveries', () => endpoint.state.successes.size === 40);
    await waitFor('the counters to show them', async () => {
      const m = await scrape(red);
      return m.value('dingtalk_hub_deliveries_total', { subscriber: 'oa1', outcome: 'delivered' }) === 40;
    });
    expectCounts(await scrape(red), 40);

    await red.deploy(hubFlow(endpoint.url)); // full: every node and the store closed and opened again
    await waitForReceiver(red);
    expectCounts(await scrape(red), 40);

    await red.stop();
    await red.start();
    await waitForReceiver(red);
    expectCounts(await scrape(red), 40);
    const more = Array.from({ length: 10 }, (_, i) => eventN(100 + i));
    (await pushEvents(red.nodeBase, more)).acknowledged.size.should.equal(10);
    await waitFor('50 deliveries', () => endpoint.state.successes.size === 50);
    await waitFor('the counters to show 50', async () => (await scrape(red)).value('dingtalk_hub_deliveries_total', { subscriber: 'oa1', outcome: 'delivered' }) === 50);
    expectCounts(await scrape(red), 50);
  });
});
