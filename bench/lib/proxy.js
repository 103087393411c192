'use strict';
// The load balancer of the redis section's scale part, in a process of its own so that its CPU is
// measured apart: an HTTP reverse proxy on a loopback port that sends each request to the next target in
// turn (round robin), keep-alive to the targets, bodies streamed both ways. Driven by bench/redis.js.
const http = require('node:http');
const { serve } = require('./child');

let targets = [];
let next = 0;
let sent = [];
const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

const server = http.createServer((req, res) => {
  if (targets.length === 0) {
    req.resume();
    return res.writeHead(503).end('no target');
  }
  const i = next;
  next = (next + 1) % targets.length;
  sent[i] += 1;
  const to = new URL(req.url, targets[i]);
  const upstream = http.request(to, { method: req.method, headers: { ...req.headers, host: to.host }, agent }, (answer) => {
    res.writeHead(answer.statusCode, answer.headers);
    answer.pipe(res);
  });
  upstream.on('error', (err) => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502).end(`target unreachable: ${err.code || err.message}`);
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 30000;

serve({
  start: () => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`));
  }),
  /** Replaces the targets (base URLs) and starts counting requests per target again. */
  targets: (args) => {
    targets = [...args.targets];
    next = 0;
    sent = targets.map(() => 0);
    return true;
  },
  sent: () => sent,
});
