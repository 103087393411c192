'use strict';
require('should');
const { callbackCryptoFor, receiveIdFor, normaliseStyle } = require('../../core/app-config');

const base = { appKey: 'dingapp', corpId: 'dingcorp', token: 'tok123', aesKey: 'kT7vQ2mZp9LxR4sNw8YbC3dF6gHj1KoE5uAiV0rWq3j' };

describe('core/app-config', function () {
  it('picks the receive id per callback style', function () {
    receiveIdFor({ ...base, callbackStyle: 'event-subscription' }).should.eql({ receiveId: 'dingapp', field: 'appKey' });
    receiveIdFor({ ...base, callbackStyle: 'register-call-back' }).should.eql({ receiveId: 'dingcorp', field: 'corpId' });
    receiveIdFor({ ...base, callbackStyle: 'isv' }).should.eql({ receiveId: 'dingapp', field: 'appKey' });
    normaliseStyle('nonsense').should.equal('event-subscription');
  });

  it('builds a cipher for a complete configuration', function () {
    const r = callbackCryptoFor({ ...base, callbackStyle: 'event-subscription' });
    r.ok.should.be.true();
    r.value.acceptedIds.should.eql(['dingapp']);
    r.value.cipher.receiveId.should.equal('dingapp');
  });

  it('accepts the ISV placeholder id beside the suite key, or alone before the suite has one', function () {
    callbackCryptoFor({ ...base, callbackStyle: 'isv' }).value.acceptedIds.should.eql(['dingapp', 'suite4xxxxxxxxxxxxxxx']);
    callbackCryptoFor({ ...base, appKey: '', callbackStyle: 'isv' }).value.acceptedIds.should.eql(['suite4xxxxxxxxxxxxxxx']);
  });

  it('says what is missing or wrong, as message keys', function () {
    callbackCryptoFor({ ...base, token: '' }).problem.should.eql({ key: 'errors.no-token' });
    callbackCryptoFor({ ...base, token: 'a b' }).problem.key.should.equal('errors.bad-token');
    callbackCryptoFor({ ...base, aesKey: undefined }).problem.should.eql({ key: 'errors.no-aes-key' });
    callbackCryptoFor({ ...base, aesKey: 'x'.repeat(42) }).problem.should.eql({ key: 'errors.bad-aes-key', params: { reason: 'aesKey must be 43 characters, got 42' } });
    callbackCryptoFor({ ...base, corpId: ' ', callbackStyle: 'register-call-back' }).problem.should.eql({ key: 'errors.no-receive-id', params: { field: 'corpId' } });
  });
});
