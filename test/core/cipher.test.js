'use strict';
const should = require('should');
const {
  DingTalkCipher, CipherError, sign, signatureMatches, aesKeyProblem, tokenProblem, generateAesKey, generateToken,
  decodeAesKey, SUITE_PLACEHOLDER_RECEIVE_ID,
} = require('../../core/cipher');
const { vectors } = require('../support/shared');

const cases = vectors();
const byKind = (kind) => cases.filter((c) => c.kind === kind);
const cipherFor = (c) => new DingTalkCipher({ token: c.token, aesKey: c.aesKey, receiveId: c.receiveId });

// What each negative vector's failsAt step means in our error codes.
const EXPECTED_CODES = {
  signature: ['bad-signature'],
  receiveId: ['receive-id-mismatch'],
  decrypt: ['bad-ciphertext'],
  padding: ['bad-padding'],
  length: ['bad-length'],
  'padding/receiveId': ['bad-padding', 'bad-length', 'receive-id-mismatch'],
  'decrypt/padding/receiveId': ['bad-ciphertext', 'bad-padding', 'bad-length', 'receive-id-mismatch', 'bad-utf8'],
  config: ['bad-aes-key'],
};

describe('core/cipher', function () {
  it('has every kind of vector in the shared file', function () {
    byKind('positive-request').length.should.be.aboveOrEqual(13);
    byKind('positive-reply').length.should.equal(3);
    byKind('known-answer').length.should.equal(4);
    byKind('negative').length.should.equal(17);
  });

  describe('positive requests', function () {
    for (const c of byKind('positive-request')) {
      const padded32 = !c.id.startsWith('P15');
      it(`${c.id}: verifies, decrypts${padded32 ? ', re-encrypts byte for byte' : ' (16-byte padding)'}`, function () {
        const cipher = cipherFor(c);
        sign(c.token, c.timestamp, c.nonce, c.encrypt).should.equal(c.signature);
        const out = cipher.open({ signature: c.signature, timestamp: c.timestamp, nonce: c.nonce, encrypt: c.encrypt });
        out.plaintext.should.equal(c.expect.plaintext);
        out.receiveId.should.equal(c.receiveId);
        if (padded32) {
          cipher.encrypt(c.plaintext, { randomPrefix: Buffer.from(c.randomPrefixHex, 'hex') }).should.equal(c.encrypt);
        } else {
          // P15 was padded to 16 bytes by the Go sample: we decrypt it but encode to 32-byte blocks.
          cipher.encrypt(c.plaintext, { randomPrefix: Buffer.from(c.randomPrefixHex, 'hex') }).should.not.equal(c.encrypt);
        }
      });
    }

    it('accepts both query styles (same signature value)', function () {
      const c = byKind('positive-request')[0];
      c.httpRequest.queryConsoleStyle.should.startWith(`msg_signature=${c.signature}`);
      c.httpRequest.queryLegacyStyle.should.startWith(`signature=${c.signature}`);
    });
  });

  describe('positive replies', function () {
    for (const c of byKind('positive-reply')) {
      it(`${c.id}: reply decrypts to success and verifies`, function () {
        const cipher = cipherFor(c);
        const r = c.replyBody;
        cipher.open({ signature: r.msg_signature, timestamp: r.timeStamp, nonce: r.nonce, encrypt: r.encrypt })
          .plaintext.should.equal('success');
        cipher.encrypt('success', { randomPrefix: Buffer.from(c.randomPrefixHex, 'hex') }).should.equal(r.encrypt);
        if (c.replyKeysFromLibrary) {
          Object.keys(cipher.seal('success')).sort().should.eql(c.replyKeysFromLibrary);
        }
      });
    }
  });

  describe('known answers', function () {
    for (const c of byKind('known-answer')) {
      it(`${c.id}: decrypts and verifies`, function () {
        const out = cipherFor(c).open({ signature: c.signature, timestamp: c.timestamp, nonce: c.nonce, encrypt: c.encrypt });
        out.plaintext.should.equal(c.expect.plaintext);
      });
    }
  });

  describe('negative cases', function () {
    for (const c of byKind('negative')) {
      it(`${c.id}: rejected (${c.expect.failsAt || 'strict padding'})`, function () {
        let error;
        try {
          cipherFor(c).open({ signature: c.signature, timestamp: c.timestamp, nonce: c.nonce, encrypt: c.encrypt });
        } catch (e) {
          error = e;
        }
        should.exist(error, 'must be rejected');
        error.should.be.instanceOf(CipherError);
        const allowed = EXPECTED_CODES[c.expect.failsAt] || ['bad-padding'];
        allowed.should.containEql(error.code);
      });
    }

    it('N07 names the receive id it found', function () {
      const c = cases.find((x) => x.id.startsWith('N07'));
      try {
        cipherFor(c).open({ signature: c.signature, timestamp: c.timestamp, nonce: c.nonce, encrypt: c.encrypt });
        throw new Error('not rejected');
      } catch (e) {
        e.code.should.equal('receive-id-mismatch');
        const p03 = cases.find((x) => x.id.startsWith('P03'));
        e.found.should.equal(p03.receiveId);
      }
    });

    it('N14 (inconsistent pad bytes) is rejected for the padding, not later', function () {
      const c = cases.find((x) => x.id.startsWith('N14'));
      (() => cipherFor(c).decrypt(c.encrypt)).should.throw({ code: 'bad-padding' });
    });
  });

  describe('configuration and helpers', function () {
    it('rejects aesKeys that are not 43 base64 characters', function () {
      should(aesKeyProblem('a'.repeat(42))).match(/43/);
      should(aesKeyProblem('a'.repeat(44))).match(/43/);
      should(aesKeyProblem('a'.repeat(42) + '-')).match(/letters/);
      should(aesKeyProblem(undefined)).match(/missing/);
      should(aesKeyProblem(generateAesKey())).be.undefined();
      (() => decodeAesKey('short')).should.throw({ code: 'bad-aes-key' });
    });

    it('ignores the two leftover bits of the 43rd character', function () {
      const c = cases.find((x) => x.aesKeyTrailingBits === 3);
      decodeAesKey(c.aesKey).toString('hex').should.equal(c.aesKeyHex);
    });

    it('validates tokens', function () {
      should(tokenProblem('')).match(/missing/);
      should(tokenProblem('has space')).match(/printable/);
      should(tokenProblem('x'.repeat(65))).match(/64/);
      should(tokenProblem(generateToken())).be.undefined();
      (() => new DingTalkCipher({ token: '', aesKey: generateAesKey(), receiveId: 'x' })).should.throw({ code: 'bad-token' });
    });

    it('generates distinct alphanumeric secrets', function () {
      const a = generateAesKey();
      a.should.match(/^[A-Za-z0-9]{43}$/);
      a.should.not.equal(generateAesKey());
      generateToken().should.match(/^[A-Za-z0-9]{32}$/);
    });

    it('rejects signatures that are not exactly 40 lower-case hex digits', function () {
      const good = sign('t', '1', 'n', 'e');
      signatureMatches(good, good).should.be.true();
      signatureMatches(good, good.toUpperCase()).should.be.false();
      signatureMatches(good, good.slice(1)).should.be.false();
      signatureMatches(good, undefined).should.be.false();
      signatureMatches(good, [good]).should.be.false();
    });

    it('round-trips Chinese text and emoji byte for byte', function () {
      const cipher = new DingTalkCipher({ token: 'tok', aesKey: generateAesKey(), receiveId: 'dingappkey' });
      const text = JSON.stringify({ title: '王芳提交的报销申请 100% ✅🎉', note: '%7B' });
      cipher.decrypt(cipher.encrypt(text)).plaintext.should.equal(text);
    });

    it('seals replies that open with the same cipher, for the id the request carried', function () {
      const cipher = new DingTalkCipher({ token: 'tok', aesKey: generateAesKey(), receiveId: 'suiteKey1' });
      const reply = cipher.seal('success', SUITE_PLACEHOLDER_RECEIVE_ID, 1717000000000);
      reply.timeStamp.should.equal('1717000000000');
      reply.nonce.should.match(/^[A-Za-z0-9]{16}$/);
      const out = cipher.open({ signature: reply.msg_signature, timestamp: reply.timeStamp, nonce: reply.nonce, encrypt: reply.encrypt },
        [SUITE_PLACEHOLDER_RECEIVE_ID]);
      out.plaintext.should.equal('success');
      (() => cipher.decrypt(reply.encrypt)).should.throw({ code: 'receive-id-mismatch' });
    });

    it('rejects ciphertext that is not base64 or not whole blocks', function () {
      const cipher = new DingTalkCipher({ token: 'tok', aesKey: generateAesKey(), receiveId: 'x' });
      (() => cipher.decrypt('not base64!')).should.throw({ code: 'bad-ciphertext' });
      (() => cipher.decrypt('')).should.throw({ code: 'bad-ciphertext' });
      (() => cipher.decrypt(Buffer.alloc(20).toString('base64'))).should.throw({ code: 'bad-ciphertext' });
    });

    it('takes only standard, padded base64: what Node would quietly skip or read as URL-safe is refused', function () {
      const cipher = new DingTalkCipher({ token: 'tok', aesKey: generateAesKey(), receiveId: 'app' });
      const good = cipher.encrypt('{"EventType":"check_url"}'); // 64 bytes: 88 characters ending in '=='
      good.should.endWith('==');
      const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
      const last = good.length - 3; // the character holding the last 2 bits (and 4 that must be zero)
      cipher.decrypt(good).plaintext.should.equal('{"EventType":"check_url"}');
      const at = (i, ch) => good.slice(0, i) + ch + good.slice(i + 1);
      const plus = good.indexOf('+');
      const variants = {
        'URL-safe minus': at(10, '-'),
        'URL-safe underscore': at(10, '_'),
        'a CJK character whose low byte is "-"': at(10, '中'),
        'a space': at(10, ' '),
        'a line break': at(10, '\n'),
        'a dot': at(10, '.'),
        'padding in the middle': at(10, '='),
        'padding missing': good.replace(/=+$/, (m) => 'A'.repeat(m.length)).slice(0, -4),
        'non-zero bits in the last character before the padding': at(last, ALPHABET[ALPHABET.indexOf(good[last]) ^ 1]),
      };
      if (plus >= 0) variants['"+" written URL-safe'] = at(plus, '-');
      for (const [what, text] of Object.entries(variants)) {
        text.should.not.equal(good, what);
        (() => cipher.decrypt(text)).should.throw({ code: 'bad-ciphertext' }, what);
      }
    });

    it('rejects a message that is not UTF-8 after the receive id checks out', function () {
      const aesKey = generateAesKey();
      const cipher = new DingTalkCipher({ token: 'tok', aesKey, receiveId: 'app' });
      // Build a plaintext by hand whose message bytes are invalid UTF-8 (0xff 0xfe).
      const { createCipheriv } = require('node:crypto');
      const key = decodeAesKey(aesKey);
      const body = Buffer.concat([Buffer.alloc(16, 0x61), Buffer.from([0, 0, 0, 2]), Buffer.from([0xff, 0xfe]), Buffer.from('app')]);
      const pad = 32 - (body.length % 32);
      const c = createCipheriv('aes-256-cbc', key, key.subarray(0, 16));
      c.setAutoPadding(false);
      const enc = Buffer.concat([c.update(Buffer.concat([body, Buffer.alloc(pad, pad)])), c.final()]).toString('base64');
      (() => cipher.decrypt(enc)).should.throw({ code: 'bad-utf8' });
    });

    it('one cipher decrypts push after push of any size, whatever was rejected in between', function () {
      // The AES context is kept across pushes: nothing a push leaves behind may reach the next one.
      const { randomBytes, createDecipheriv } = require('node:crypto');
      const aesKey = generateAesKey();
      const cipher = new DingTalkCipher({ token: 'tok', aesKey, receiveId: 'dingapp' });
      const key = decodeAesKey(aesKey);
      const bad = [
        'not base64!',
        Buffer.alloc(20).toString('base64'), // 20 bytes: not whole blocks
        randomBytes(64).toString('base64'), // whole blocks, garbage inside
        new DingTalkCipher({ token: 'tok', aesKey: generateAesKey(), receiveId: 'dingapp' }).encrypt('wrong key'),
      ];
      for (let i = 0; i < 200; i++) {
        const message = JSON.stringify({ EventType: 'bpms_task_change', n: i, text: '审批'.repeat(i % 37), pad: 'x'.repeat(i) });
        const encrypted = cipher.encrypt(message);
        (() => cipher.decrypt(bad[i % bad.length])).should.throw(CipherError);
        cipher.decrypt(encrypted).should.eql({ plaintext: message, receiveId: 'dingapp' });
        // The same bytes through a fresh CBC context, as a reference.
        const reference = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16));
        reference.setAutoPadding(false);
        const plain = reference.update(Buffer.from(encrypted, 'base64'));
        plain.subarray(20, 20 + plain.readUInt32BE(16)).toString('utf8').should.equal(message);
      }
    });
  });
});

