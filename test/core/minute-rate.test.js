'use strict';
// MinuteRate (core/minute-rate.ts): deliveries per minute over the last five minutes, with a fake clock.
require('should');
const { MinuteRate } = require('../../core/minute-rate');

describe('MinuteRate', function () {
  it('averages what happened over the last five minutes, forgetting older buckets', function () {
    let now = 1_000_000_000_000;
    const rate = new MinuteRate(() => now);
    rate.perMinute().should.equal(0);
    for (let i = 0; i < 10; i += 1) rate.record();
    rate.perMinute().should.equal(2); // 10 in five minutes
    now += 2 * 60_000;
    rate.record(5);
    rate.perMinute().should.equal(3);
    now += 3 * 60_000 + 10_000; // the first ten are more than five minutes old
    rate.perMinute().should.equal(1);
    now += 60 * 60_000; // an hour later a slot reused for a new bucket starts from zero
    rate.record();
    rate.perMinute().should.equal(0.2);
  });
});
