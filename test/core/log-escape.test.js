'use strict';
// Values from outside (push ids, types, subscriber errors) as they appear inside one log line.
require('should');
const { escapeForLog, forLog } = require('../../core/log-escape');

describe('core/log-escape', function () {
  it('escapes line breaks, controls, quotes and invisible characters, without quotes of its own', function () {
    escapeForLog('evt-1').should.equal('evt-1');
    escapeForLog('a\nb\r\u2028\u2029\u202e\u0000"c"\\').should.equal('a\\nb\\r\\u2028\\u2029\\u202e\\u0000\\"c\\"\\\\');
    escapeForLog('审批 ✓').should.equal('审批 ✓'); // readable text stays readable
    escapeForLog(undefined).should.equal('');
    escapeForLog(42).should.equal('42');
  });

  it('bounds the length by code points and marks the cut', function () {
    escapeForLog('x'.repeat(201)).should.equal('x'.repeat(200) + '…');
    escapeForLog('x'.repeat(200)).should.equal('x'.repeat(200));
    escapeForLog('y'.repeat(9) + '😀😀', 10).should.equal('y'.repeat(9) + '😀…');
  });

  it('forLog is the quoted form', function () {
    forLog('a\nb').should.equal('"a\\nb"');
    forLog('y'.repeat(81)).should.equal(`"${'y'.repeat(80)}"…`);
  });
});
