'use strict';
// Ports without races. A port read from a probe that is then closed may be taken by anyone (another
// test process on this shared machine) before its user binds it. So: servers in this process bind
// port 0 themselves and report what they got; a server that must be "down" at first holds its port
// and refuses service until opened; a child process that needs a number up front gets a candidate
// and is started again on another one if it reports EADDRINUSE.
const http = require('node:http');

/** Listens on 127.0.0.1:port (0: any free port); resolves the port actually bound. */
function listen(server, port = 0) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

/**
 * Keeps `server` "down" while it holds its port: every connection is reset at once (a network
 * error to the client, as a stopped service gives) until open() is called. Call before listen().
 */
function downUntilOpened(server) {
  let down = true;
  server.prependListener('connection', (socket) => { if (down) socket.destroy(); });
  return { open: () => { down = false; }, isDown: () => down };
}

/**
 * A port that was free a moment ago, for a child process that must be told its port. Not reserved:
 * start the child with startOnFreePort (or retry on EADDRINUSE yourself).
 */
function candidatePort() {
  return new Promise((resolve, reject) => {
    const probe = http.createServer();
    listen(probe).then((port) => probe.close(() => resolve(port)), reject);
  });
}

const PORT_IN_USE = /EADDRINUSE|port in use/i;

/**
 * Calls start(port) with candidate ports until it does not fail with a port already in use
 * (start rejects with an error whose message or `output` matches EADDRINUSE / "port in use").
 */
async function startOnFreePort(start, { attempts = 5 } = {}) {
  for (let i = 1; ; i += 1) {
    const port = await candidatePort();
    try {
      return await start(port);
    } catch (err) {
      if (i >= attempts || !PORT_IN_USE.test(`${err.message}\n${err.output || ''}`)) throw err;
    }
  }
}

module.exports = { listen, downUntilOpened, candidatePort, startOnFreePort, PORT_IN_USE };
