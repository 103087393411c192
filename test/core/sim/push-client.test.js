'use strict';
// The simulator's push against a real HTTP server running the receiver's logic, and against servers
// whose replies DingTalk would not accept.
require('should');
const http = require('node:http');
const { sendPush, signPush, checkReply, cipherFor } = require('../../../core/sim/push-client');
const { DingTalkCipher } = require('../../../core/cipher');
const { sampleEvent, sampleEventTypes } = require('../../../core/sample-events');
const { URL_CHECK_EVENTS } = require('../../../core/events');
const { APP } = require('../../support/push');
const { startReceiverServer, startFixedServer } = require('../../support/receiver-server');

const creds = { token: APP.token, aesKey: APP.aesKey, receiveId: APP.appKey };
const cipher = cipherFor(creds);

describe('core/sim/push-client', function () {
  let server;
  afterEach(async function () {
    await server?.close();
    server = undefined;
  });

  it('delivers every sample type to the receiver, which verifies, stores and acknowledges it', async function () {
    server = await startReceiverServer();
    const sent = [];
    for (const type of sampleEventTypes()) {
      const payload = sampleEvent(type, { corpId: APP.corpId });
      const result = await sendPush({ url: server.url, plaintext: JSON.stringify(payload), ...creds });
      result.should.have.properties({ status: 200, verified: true });
      result.should.not.have.property('problem');
      result.ms.should.be.a.Number();
      if (!URL_CHECK_EVENTS.has(type)) sent.push(payload);
    }
    server.rejected.should.be.empty();
    server.events.map((e) => e.payload).should.eql(sent); // Chinese text and numbers arrive unchanged
    for (const e of server.events) if (e.payload.eventId) e.dingtalk.eventId.should.equal(e.payload.eventId);
  });

  it('signs with msg_signature by default and with signature for legacy pushes, keeping the URL\'s own query', async function () {
    server = await startFixedServer(() => ({ body: cipher.seal('success') }));
    server.url.should.endWith('?app=1');
    for (const signatureParam of [undefined, 'signature']) {
      const r = await sendPush({ url: server.url, plaintext: '{"EventType":"check_url"}', signatureParam, ...creds });
      r.verified.should.be.true();
    }
    const [modern, legacy] = server.requests.map((r) => new URL(r.url, 'http://x').searchParams);
    [...modern.keys()].should.eql(['app', 'msg_signature', 'timestamp', 'nonce']);
    [...legacy.keys()].should.eql(['app', 'signature', 'timestamp', 'nonce']);
    // What a receiver needs to open it: the signature over the query values and the body's encrypt.
    const { encrypt } = JSON.parse(server.requests[0].body);
    cipher.open({ signature: modern.get('msg_signature'), timestamp: modern.get('timestamp'), nonce: modern.get('nonce'), encrypt })
      .plaintext.should.equal('{"EventType":"check_url"}');
    server.requests[0].headers['content-type'].should.equal('application/json');
  });

  it('encrypts for the receive id it is given, whatever the cipher was built for', function () {
    const push = signPush(cipher, { url: 'http://127.0.0.1/x', plaintext: '{}', receiveId: 'suite4xxxxxxxxxxxxxxx', now: 1700000000000 });
    const q = new URL(push.url).searchParams;
    q.get('timestamp').should.equal('1700000000000');
    q.get('nonce').should.match(/^[A-Za-z0-9]{8}$/);
    cipher.decrypt(JSON.parse(push.body).encrypt, ['suite4xxxxxxxxxxxxxxx']).receiveId.should.equal('suite4xxxxxxxxxxxxxxx');
  });

  it('reports the receiver\'s JSON error on a refused push (wrong token)', async function () {
    server = await startReceiverServer();
    const r = await sendPush({ url: server.url, plaintext: JSON.stringify(sampleEvent('check_in')), ...creds, token: 'notTheToken1' });
    r.should.have.properties({ status: 403, verified: false });
    r.error.should.eql({ error: 'bad-signature', message: 'signature does not match (check the token)' });
    r.problem.should.equal('HTTP 403: bad-signature: signature does not match (check the token)');
  });

  it('does not accept a 200 unless the reply is the encrypted, signed "success" for the same receive id', async function () {
    const other = new DingTalkCipher({ ...creds, token: 'someOtherToken' });
    const cases = [
      [{ body: 'success' }, /^reply is not JSON/],
      [{ body: { encrypt: cipher.encrypt('success') } }, /lacks the string field\(s\) msg_signature, timeStamp, nonce/],
      [{ body: other.seal('success') }, /^reply rejected \(bad-signature\)/],
      [{ body: cipher.seal('fail') }, /^reply decrypts to "fail", not "success"/],
      [{ body: cipher.seal('success', APP.corpId) }, /^reply rejected \(receive-id-mismatch\)/],
      [{ status: 500, body: '' }, /^HTTP 500: \(empty body\)$/],
      [{ status: 502, body: '<html>Bad gateway</html>' }, /^HTTP 502: HTML page "Bad gateway"$/],
    ];
    for (const [answer, problem] of cases) {
      server = await startFixedServer(() => answer);
      const r = await sendPush({ url: server.url, plaintext: '{"EventType":"check_url"}', ...creds });
      r.verified.should.be.false();
      r.problem.should.match(problem);
      await server.close();
    }
    server = undefined;
    checkReply(cipher, APP.appKey, 200, JSON.stringify(cipher.seal('success'))).should.eql({ verified: true });
  });

  it('sends extra headers, and rejects when no answer comes', async function () {
    server = await startFixedServer(() => ({ body: cipher.seal('success') }));
    await sendPush({ url: server.url, plaintext: '{}', headers: { 'x-test': 'k1' }, ...creds });
    server.requests[0].headers['x-test'].should.equal('k1');
    const url = server.url;
    await server.close();
    server = undefined;
    await sendPush({ url, plaintext: '{}', ...creds }).should.be.rejectedWith({ code: 'ECONNREFUSED' });

    const silent = http.createServer(() => {}); // never answers
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    try {
      await sendPush({ url: `http://127.0.0.1:${silent.address().port}/`, plaintext: '{}', timeoutMs: 200, ...creds })
        .should.be.rejectedWith({ code: 'ETIMEDOUT' });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('refuses unusable options before sending', async function () {
    await sendPush({ url: 'http://127.0.0.1:9/', plaintext: '{}', ...creds, aesKey: 'short' }).should.be.rejectedWith({ code: 'bad-aes-key' });
    await sendPush({ url: 'ftp://127.0.0.1/', plaintext: '{}', ...creds }).should.be.rejectedWith(TypeError);
  });
});
