'use strict';
// The business endpoints (their own process): HTTP servers on 127.0.0.1 that count every delivery
// when it has been read in full and answer 200. Paths under /echo answer with the request body, so a
// chain of core `http request` nodes forwards the same event to each endpoint. Driven by bench/run.js.
const http = require('node:http');
const { serve } = require('./lib/child');

const servers = new Map();
const state = { total: 0, firstAt: 0, lastAt: 0 };

function listen({ name, port = 0 }) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const now = Date.now();
      state.total += 1;
      if (state.firstAt === 0) state.firstAt = now;
      state.lastAt = now;
      if (req.url.startsWith('/echo')) {
        const body = Buffer.concat(chunks);
        res.writeHead(200, { 'content-type': req.headers['content-type'] || 'application/json', 'content-length': body.length });
        res.end(body);
      } else {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
        res.end('ok');
      }
    });
  });
  server.keepAliveTimeout = 30000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      servers.set(name, server);
      resolve(`http://127.0.0.1:${server.address().port}`);
    });
  });
}

/** Resolves with the counters once `total` deliveries have arrived, or when `timeoutMs` has passed. */
function waitFor({ total, timeoutMs }) {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const check = () => {
      if (state.total >= total || Date.now() >= end) resolve({ ...state });
      else setTimeout(check, 20);
    };
    check();
  });
}

serve({
  listen,
  waitFor,
  counts: () => ({ ...state }),
  reset: () => {
    Object.assign(state, { total: 0, firstAt: 0, lastAt: 0 });
    return true;
  },
  close: async () => {
    for (const server of servers.values()) {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
    servers.clear();
    return true;
  },
});
