'use strict';
require('should');
const { describeEvent, eventIdOf, eventTypeOf, URL_CHECK_EVENTS } = require('../../core/event-info');
const { eventFixtures } = require('../support/shared');

describe('core/event-info', function () {
  it('uses DingTalk eventId when present', function () {
    eventIdOf({ eventId: 'abc' }, '{}').should.equal('abc');
  });

  it('hashes the plaintext for id-less events: stable, and different for different text', function () {
    const a = eventIdOf({}, '{"EventType":"user_add_org","UserId":["a"]}');
    a.should.match(/^sha256:[0-9a-f]{32}$/);
    eventIdOf({}, '{"EventType":"user_add_org","UserId":["a"]}').should.equal(a);
    eventIdOf({}, '{"EventType":"user_add_org","UserId":["b"]}').should.not.equal(a);
  });

  it('trims the event type (a 2016 sample had "suite_ticket ")', function () {
    eventTypeOf({ EventType: 'suite_ticket ' }).should.equal('suite_ticket');
    eventTypeOf({}).should.equal('');
  });

  it('reads corp and time from every shape, as numbers in ms', function () {
    describeEvent({ EventType: 'x', CorpId: 'c1', EventTime: 1717000000123 }, '', 'http', 5).should.eql({
      eventId: describeEvent({}, '', 'http').eventId, eventType: 'x', corpId: 'c1', eventTime: 1717000000123, receivedAt: 5, source: 'http',
    });
    describeEvent({ EventType: 'x', corpId: 'c2', TimeStamp: '1717000000456' }, 'p', 'http').should.have.properties({ corpId: 'c2', eventTime: 1717000000456 });
    describeEvent({ EventType: 'x', AuthCorpId: 'c3', TimeStamp: '1717000000' }, 'p', 'http').should.have.properties({ corpId: 'c3', eventTime: 1717000000000 });
    describeEvent({ EventType: 'x', timeStamp: 'soon' }, 'p', 'http').should.not.have.property('eventTime');
  });

  it('describes every fixture with a type, and a corp where the fixture names one', function () {
    for (const f of eventFixtures()) {
      const info = describeEvent(f.payload, f.plaintext, 'http');
      info.eventType.should.not.be.empty();
      if (f.payload.CorpId || f.payload.corpId) info.should.have.property('corpId');
    }
  });

  it('knows the three URL-check events', function () {
    [...URL_CHECK_EVENTS].sort().should.eql(['check_create_suite_url', 'check_update_suite_url', 'check_url']);
  });
});
