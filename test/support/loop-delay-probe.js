'use strict';
// Preloaded into a Node-RED process under test (node --require): measures that process's event-loop
// delay with perf_hooks.monitorEventLoopDelay and answers on its own loopback port, so a test can see
// how long Node-RED's loop was blocked (GET /reset starts a new measurement, GET /stats reads it, in ms).
// The port comes from DINGTALK_E2E_LOOP_PROBE_PORT; without it the probe does nothing.
const http = require('node:http');
const { monitorEventLoopDelay } = require('node:perf_hooks');

const port = Number(process.env.DINGTALK_E2E_LOOP_PROBE_PORT);
if (port > 0) {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const ms = (ns) => Math.round(ns / 1e4) / 100;
  const server = http.createServer((req, res) => {
    if (req.url === '/reset') histogram.reset();
    const stats = { count: histogram.count, p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(stats));
  });
  server.listen(port, '127.0.0.1');
  server.unref(); // never what keeps Node-RED alive
}
