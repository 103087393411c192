'use strict';
// A loopback server standing in for a business system: collects the JSON bodies a flow forwards to it.
const http = require('node:http');

async function startSink() {
  const received = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => { received.push(JSON.parse(body)); res.end('ok'); });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { received, url: `http://127.0.0.1:${server.address().port}/sink`, close: () => new Promise((r) => server.close(r)) };
}

module.exports = { startSink };
