'use strict';
require('should');
const { DedupWindow } = require('../../core/dedup');

describe('core/dedup', function () {
  let now;
  const make = (windowMs, maxEntries) => new DedupWindow({ windowMs, maxEntries, now: () => now });
  beforeEach(() => { now = 1000; });

  it('reports an id as new once, then as a duplicate within the window', function () {
    const d = make(60_000, 10);
    d.add('a').should.be.true();
    d.add('a').should.be.false();
    d.add('b').should.be.true();
    d.has('a').should.be.true();
  });

  it('forgets ids after the window', function () {
    const d = make(1000, 10);
    d.add('a').should.be.true();
    now += 999;
    d.add('a').should.be.false();
    now += 2;
    d.has('a').should.be.false();
    d.add('a').should.be.true();
  });

  it('never holds more than maxEntries, dropping the oldest first', function () {
    const d = make(60_000, 3);
    for (const id of ['a', 'b', 'c', 'd']) d.add(id).should.be.true();
    d.size.should.equal(3);
    d.has('a').should.be.false();
    d.add('b').should.be.false();
    d.add('d').should.be.false();
  });

  it('evicts expired entries as it goes, so memory follows traffic in the window', function () {
    const d = make(100, 1_000_000);
    for (let i = 0; i < 1000; i++) { d.add(`id${i}`); now += 1; }
    d.size.should.be.belowOrEqual(101);
  });

  it('delete lets a failed attempt be retried', function () {
    const d = make(60_000, 10);
    d.add('a');
    d.delete('a');
    d.add('a').should.be.true();
  });

  it('refuses a nonsensical configuration', function () {
    (() => new DedupWindow({ windowMs: 0, maxEntries: 1 })).should.throw(RangeError);
    (() => new DedupWindow({ windowMs: 1, maxEntries: 0 })).should.throw(RangeError);
  });
});
