'use strict';
// A load balancer for the multi-instance tests: an HTTP reverse proxy on a loopback port of its own that
// sends each request to the next of its targets in turn (round robin), streaming the request body and the
// answer both ways. A target that cannot be reached (connection refused or reset: a killed instance) gets
// the client a 502, as a real balancer answers, so the pusher sees "not acknowledged" and retries. The
// targets can be changed while it runs (drop a killed instance, add it back). Each answer names the target
// that gave it in `x-proxy-target`, so a test knows which instance acknowledged a push.
const http = require('node:http');
const { listen } = require('./ports');

/**
 * targets: base URLs (`http://127.0.0.1:1880`); a request's path is appended to the chosen one.
 * Resolves { url, port, targets (get/set), sent (requests per target URL), close() }.
 */
async function startRoundRobinProxy(targets = []) {
  let list = [...targets];
  let next = 0;
  const sent = new Map();
  // Keep-alive to the targets: thousands of pushes would otherwise leave thousands of sockets in TIME_WAIT.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  const fail = (res, status, message) => {
    if (res.headersSent) return res.destroy(); // the answer had begun: the client sees a cut answer
    res.writeHead(status, { 'content-type': 'text/plain' }).end(message);
  };

  const server = http.createServer((req, res) => {
    if (list.length === 0) {
      req.resume();
      return fail(res, 503, 'no target');
    }
    const target = list[next % list.length];
    next = (next + 1) % list.length;
    sent.set(target, (sent.get(target) || 0) + 1);
    const to = new URL(req.url, target);
    const upstream = http.request(to, { method: req.method, headers: { ...req.headers, host: to.host }, agent }, (answer) => {
      res.writeHead(answer.statusCode, answer.statusMessage, { ...answer.headers, 'x-proxy-target': target });
      answer.pipe(res);
      answer.on('aborted', () => res.destroy());
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (err) => {
      req.unpipe(upstream);
      req.resume();
      fail(res, 502, `target ${target} unreachable: ${err.code || err.message}`);
    });
    // The client went away: end the call to the target too.
    res.on('close', () => { if (!res.writableFinished) upstream.destroy(); });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 5000;
  const port = await listen(server);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get targets() { return [...list]; },
    set targets(value) { list = [...value]; next = 0; },
    sent,
    close: () => new Promise((resolve) => {
      agent.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

module.exports = { startRoundRobinProxy };
