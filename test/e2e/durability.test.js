'use strict';
// "Acknowledged means never lost", against real Node-RED processes with the packed module:
//   - crash: 2,000 signed pushes while the business endpoint is slow; the process is killed with
//     SIGKILL mid-stream and restarted; every push answered "success" reaches the endpoint, and no
//     webhook-id is delivered successfully twice;
//   - backlog: 100,000 events queued for an endpoint that is down keep the process under 300 MB RSS,
//     and all drain once it comes up.
require('should');
const fs = require('node:fs');
const http = require('node:http');
const { sleep, waitFor, installPackedModule, NodeRedProcess } = require('../support/node-red-process');
const { listen, downUntilOpened } = require('../support/ports');
const { hubFlow, startEndpoint, pushAll } = require('../support/hub-e2e');

const eventN = (i) => ({ EventType: 'bpms_instance_change', EventTime: 1717000000000 + i, CorpId: 'ding1', eventId: `evt-${String(i).padStart(6, '0')}`,
  processInstanceId: `proc-${i}`, type: 'finish', result: 'agree', title: `报销申请 ${i}` });

describe('durability (e2e, real Node-RED processes)', function () {
  this.timeout(600000);
  let install;
  before(function () { install = installPackedModule(); });
  after(function () { if (install) fs.rmSync(install.work, { recursive: true, force: true }); });

  it('crash: every push answered "success" reaches the endpoint after kill -9 and restart, none twice', async function () {
    let red;
    // Concurrency 1: the hub records each delivery before it sends the next request, so killing it as
    // a request arrives leaves no answered-but-unrecorded delivery behind (the only window in which
    // an at-least-once system can deliver twice).
    const endpoint = await startEndpoint({ delayMs: 5, onRequest: (n) => {
      if (n !== 60) return undefined;
      red.kill();
      return 'drop';
    } });
    red = new NodeRedProcess(install.userDir, {});
    await red.start();
    await red.deploy(hubFlow(endpoint.url, { concurrency: 1 }));
    await waitFor('receiver', async () => (await fetch(`${red.nodeBase}/dingtalk/events`, { method: 'POST' })).status !== 404);

    const events = Array.from({ length: 2000 }, (_, i) => eventN(i));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    const acknowledged = await pushAll(red.nodeBase, events, 16, agent);
    agent.destroy();
    await red.exited; // killed by the endpoint mid-stream
    acknowledged.size.should.be.above(60).and.below(2000); // the kill really happened mid-stream
    const beforeRestart = endpoint.state.successes.size;

    await red.start(); // same user directory, flows, credentials and store
    // DingTalk retries what it never got an answer for; those are acknowledged now
    const retried = events.filter((e) => !acknowledged.has(e.eventId));
    const agent2 = new http.Agent({ keepAlive: true, maxSockets: 16 });
    await waitFor('receiver after restart', async () => (await fetch(`${red.nodeBase}/dingtalk/events`, { method: 'POST' })).status !== 404);
    for (const id of await pushAll(red.nodeBase, retried, 16, agent2)) acknowledged.add(id);
    agent2.destroy();
    acknowledged.size.should.equal(2000);

    await waitFor('every acknowledged event delivered', () => {
      const delivered = new Set([...endpoint.state.successes.values()].map((e) => e.event));
      return [...acknowledged].every((id) => delivered.has(id));
    }, 300000);
    await sleep(500); // bounded: a late duplicate delivery would arrive within this
    const twice = [...endpoint.state.successes.entries()].filter(([, e]) => e.count > 1);
    twice.should.eql([]);
    endpoint.state.successes.size.should.equal(2000);
    beforeRestart.should.be.above(0);
    red.output.should.match(/Emitting again \d+ acknowledged events that had not finished in the flow/);
    await red.stop();
    await endpoint.close();
  });

  it('backlog: 100,000 events for a down endpoint stay under 300 MB RSS and drain when it comes up', async function () {
    // The endpoint is down (every connection reset) until the backlog is queued; it holds its port meanwhile.
    const received = new Set();
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => { received.add(JSON.parse(body).id); res.end('ok'); });
    });
    const gate = downUntilOpened(server);
    const url = `http://127.0.0.1:${await listen(server)}/oa`;
    const red = new NodeRedProcess(install.userDir, {});
    await red.start();
    await red.deploy(hubFlow(url, { retrySchedule: '0, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s, 1s' }));
    await waitFor('receiver', async () => (await fetch(`${red.nodeBase}/dingtalk/events`, { method: 'POST' })).status !== 404);
    let peak = 0;
    const sampler = setInterval(() => { peak = Math.max(peak, red.rss() || 0); }, 100);
    try {
      const N = 100000;
      const events = Array.from({ length: N }, (_, i) => eventN(1000000 + i));
      const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
      const acknowledged = await pushAll(red.nodeBase, events, 32, agent);
      agent.destroy();
      acknowledged.size.should.equal(N);
      await waitFor('all queued', async () => {
        const r = await fetch(`${red.adminBase}/dingtalk-dispatch/oa1/deliveries?state=queued&limit=1&offset=${N - 1}`);
        return (await r.json()).length === 1;
      }, 120000);
      gate.open();
      await waitFor('the backlog to drain', () => received.size === N, 400000);
      clearInterval(sampler);
      console.log(`      backlog of ${N}: peak RSS ${(peak / 1048576).toFixed(0)} MB`);
      peak.should.be.below(300 * 1048576);
    } finally {
      clearInterval(sampler);
      server.closeAllConnections();
      server.close();
      await red.stop();
    }
  });
});
