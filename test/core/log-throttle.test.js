'use strict';
require('should');
const { LogThrottle } = require('../../core/log-throttle');

describe('core/log-throttle', function () {
  it('lets `limit` lines through per period and reports how many it held back', function () {
    let now = 0;
    const t = new LogThrottle(2, 1000, () => now);
    t.take().should.eql({ allowed: true, suppressedBefore: 0 });
    t.take().should.eql({ allowed: true, suppressedBefore: 0 });
    t.take().should.eql({ allowed: false, suppressedBefore: 0 });
    t.take().should.eql({ allowed: false, suppressedBefore: 0 });
    now = 1000;
    t.take().should.eql({ allowed: true, suppressedBefore: 2 });
    now = 2500;
    t.take().should.eql({ allowed: true, suppressedBefore: 0 });
  });
});
