'use strict';
// Builds DingTalk pushes the way DingTalk does (our cipher, checked byte for byte against the shared
// vectors in test/core/cipher.test.js) and checks the receiver's replies.
const { DingTalkCipher, randomAlphanumeric } = require('../../core/cipher');

const APP = {
  appKey: 'dingtestappkey0001',
  corpId: 'ding7a3f9c21e5b04d18',
  token: 'tOkEn4Tests2026',
  aesKey: 'kT7vQ2mZp9LxR4sNw8YbC3dF6gHj1KoE5uAiV0rWq3j',
};

/**
 * Two legacy (register_call_back) apps of one company: the same corpId, which is their receive id,
 * with their own token and aesKey. Pass one as `options` to makePush / openReply.
 */
const LEGACY_APPS = [
  { token: 'legacyToken1', aesKey: 'Lg1AesKeyForTheFirstLegacyApp0123456789abcd' },
  { token: 'legacyToken2', aesKey: 'Lg2AesKeyForTheSecondLegacyApp123456789abcd' },
].map((app) => ({ ...app, corpId: APP.corpId, receiveId: APP.corpId, style: 'legacy' }));

/** A signed push: { path, query, body } ready for HTTP. */
function makePush(plaintext, options = {}) {
  const token = options.token ?? APP.token;
  const aesKey = options.aesKey ?? APP.aesKey;
  const receiveId = options.receiveId ?? APP.appKey;
  const cipher = new DingTalkCipher({ token, aesKey, receiveId });
  const encrypt = cipher.encrypt(plaintext);
  const timestamp = options.timestamp ?? String(Date.now());
  const nonce = options.nonce ?? randomAlphanumeric(8);
  const signature = cipher.sign(timestamp, nonce, encrypt);
  const sigName = options.style === 'legacy' ? 'signature' : 'msg_signature';
  const query = `${sigName}=${signature}&timestamp=${timestamp}&nonce=${encodeURIComponent(nonce)}`;
  return { query, body: JSON.stringify({ encrypt }), encrypt, signature, timestamp, nonce };
}

/** Decrypts and verifies a reply body; returns the plaintext (should be "success"). */
function openReply(reply, options = {}) {
  const cipher = new DingTalkCipher({
    token: options.token ?? APP.token,
    aesKey: options.aesKey ?? APP.aesKey,
    receiveId: options.receiveId ?? APP.appKey,
  });
  Object.keys(reply).sort().should.eql(['encrypt', 'msg_signature', 'nonce', 'timeStamp']);
  for (const k of Object.keys(reply)) reply[k].should.be.a.String();
  return cipher.open({ signature: reply.msg_signature, timestamp: reply.timeStamp, nonce: reply.nonce, encrypt: reply.encrypt },
    [options.receiveId ?? APP.appKey]).plaintext;
}

module.exports = { APP, LEGACY_APPS, makePush, openReply };
