'use strict';
// Preloaded into a Node-RED process under test (node --require): measures that process's event-loop
// delay with perf_hooks.monitorEventLoopDelay and answers on its own loopback port, so a test can see
// how long Node-RED's loop was blocked (GET /reset starts a new measurement, GET /stats reads it, in ms).
// It is on when DINGTALK_E2E_LOOP_PROBE is set; it binds a free port itself (no port handed over that
// someone else could take first) and prints "loop-delay-probe listening on <port>" for the test to read.
const http = require('node:http');
const { monitorEventLoopDelay } = require('node:perf_hooks');

if (process.env.DINGTALK_E2E_LOOP_PROBE) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  const server = http.createServer((req, res) => {
    if (req.url === '/reset') histogram.reset();
    const stats = { count: histogram.count, p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
  });
  server.listen(0, '127.0.0.1', () => console.log(`loop-delay-probe listening on ${server.address().port}`));
  server.unref(); // never what keeps Node-RED alive
}
