'use strict';
// The round-robin proxy the multi-instance tests put in front of two Node-RED processes
// (test/support/round-robin-proxy.js): turn by turn, streaming both ways, 502 for an unreachable
// target, targets changed at run time.
require('should');
const http = require('node:http');
const { startRoundRobinProxy } = require('../support/round-robin-proxy');
const { listen, downUntilOpened } = require('../support/ports');

/** A target that answers `name:<method> <path> <body>`, or runs `handler` instead when given. */
async function startTarget(name, handler) {
  const server = http.createServer(handler || ((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => res.end(`${name}:${req.method} ${req.url} ${body}`));
  }));
  const port = await listen(server);
  return { server, url: `http://127.0.0.1:${port}`, close: () => { server.closeAllConnections(); return new Promise((r) => server.close(r)); } };
}

const post = async (url, body = '') => {
  const res = await fetch(url, { method: 'POST', body });
  return { status: res.status, target: res.headers.get('x-proxy-target'), text: await res.text() };
};

describe('test support: round-robin proxy', function () {
  const open = [];
  afterEach(async () => {
    for (const c of open.splice(0)) await c.close();
  });

  it('sends each request to the next target in turn, with method, path and body, and names the target', async () => {
    const a = await startTarget('a');
    const b = await startTarget('b');
    const proxy = await startRoundRobinProxy([a.url, b.url]);
    open.push(proxy, a, b);
    const answers = [];
    for (let i = 0; i < 4; i += 1) answers.push(await post(`${proxy.url}/p/${i}?q=1`, `body${i}`));
    answers.map((x) => x.text).should.eql(['a:POST /p/0?q=1 body0', 'b:POST /p/1?q=1 body1', 'a:POST /p/2?q=1 body2', 'b:POST /p/3?q=1 body3']);
    answers.map((x) => x.target).should.eql([a.url, b.url, a.url, b.url]);
    proxy.sent.get(a.url).should.equal(2);
    proxy.sent.get(b.url).should.equal(2);
  });

  it('streams the request body and the answer (each side sees the first part before the other ends)', async () => {
    let sawFirstPart;
    const firstPart = new Promise((r) => { sawFirstPart = r; });
    const target = await startTarget('s', (req, res) => {
      let body = '';
      req.on('data', (d) => {
        if (!body) {
          sawFirstPart(String(d));
          res.writeHead(200);
          res.write('head;'); // the answer begins while the request body is still open
        }
        body += d;
      });
      req.on('end', () => res.end(`tail(${body})`));
    });
    const proxy = await startRoundRobinProxy([target.url]);
    open.push(proxy, target);
    const req = http.request(`${proxy.url}/stream`, { method: 'POST' });
    const answered = new Promise((resolve, reject) => { req.on('response', resolve); req.on('error', reject); });
    req.write('part1;');
    (await firstPart).should.equal('part1;');
    const answer = await answered;
    const head = await new Promise((r) => answer.once('data', (d) => r(String(d))));
    head.should.equal('head;');
    let rest = '';
    answer.on('data', (d) => { rest += d; });
    const ended = new Promise((r) => answer.on('end', r));
    req.end('part2');
    await ended;
    rest.should.equal('tail(part1;part2)');
  });

  it('answers 502 when a target is unreachable, and goes on with the others; targets change at run time', async () => {
    const a = await startTarget('a');
    const deadServer = http.createServer();
    downUntilOpened(deadServer); // holds its port, resets every connection: a stopped instance
    const deadPort = await listen(deadServer);
    const dead = `http://127.0.0.1:${deadPort}`;
    const proxy = await startRoundRobinProxy([a.url, dead]);
    open.push(proxy, a, { close: () => new Promise((r) => deadServer.close(r)) });
    const first = await post(`${proxy.url}/x`, '1');
    const second = await post(`${proxy.url}/x`, '2');
    first.status.should.equal(200);
    second.status.should.equal(502);
    second.text.should.match(/unreachable/);
    proxy.targets = [a.url]; // drop the dead instance
    const after = [];
    for (let i = 0; i < 3; i += 1) after.push(await post(`${proxy.url}/y`, String(i)));
    after.map((x) => x.status).should.eql([200, 200, 200]);
    after.map((x) => x.text).should.eql(['a:POST /y 0', 'a:POST /y 1', 'a:POST /y 2']);
    proxy.targets.should.eql([a.url]);
  });

  it('answers 502 when a target refuses the connection (nothing listens on its port)', async () => {
    const gone = await startTarget('gone');
    const goneUrl = gone.url;
    await gone.close(); // its port is free again: connecting to it is refused
    const proxy = await startRoundRobinProxy([goneUrl]);
    open.push(proxy);
    const answer = await post(`${proxy.url}/z`, 'x');
    answer.status.should.equal(502);
    answer.text.should.match(/ECONNREFUSED/);
  });
});
