'use strict';
const should = require('should');
const { sampleEvent, sampleEventTypes } = require('../../core/sample-events');
const { CATALOGUE } = require('../../core/event-catalogue');
const { describeEvent, eventTypeOf, eventIdOf, corpIdOf, eventTimeOf, normalisePayload, contentKeyOf, URL_CHECK_EVENTS } = require('../../core/events');
const { readJson } = require('../support/shared');

const NOW = Date.UTC(2026, 4, 20, 1, 30); // 2026-05-20 09:30 in China
const CORP = 'dingsampletest00001';
const types = sampleEventTypes();

describe('core/sample-events', function () {
  it('offers every catalogued type', function () {
    types.should.eql(CATALOGUE.map((e) => e.type));
  });

  it('builds every type, and the event readers recognise its type, corp and time', function () {
    for (const type of types) {
      const event = sampleEvent(type, { corpId: CORP, now: NOW });
      eventTypeOf(event).should.equal(type, type);
      const info = describeEvent(event, 'test', { plaintext: JSON.stringify(event) });
      info.eventType.should.equal(type);
      info.eventId.should.be.a.String().and.not.be.empty();
      if (URL_CHECK_EVENTS.has(type)) continue; // URL checks carry neither corp nor time
      eventTimeOf(event).should.equal(NOW, type);
      if (type !== 'suite_ticket') corpIdOf(event).should.equal(CORP, type); // a suite ticket is for no one corp

    }
  });

  it('goes through the receiver\'s content-key logic: a key for every event that names an id, none for the rest', function () {
    // Company-level, attendance (people inside dataList) and ISV events name no id: they are told
    // apart by event id only, so two of them in one millisecond are never taken for one.
    const NO_ID = ['org_remove', 'org_change', 'org_micro_app_stop', 'org_micro_app_restore', 'attendance_check_record',
      'attendance_schedule_change', 'attendance_overtime_duration', 'attend_group_change', 'attend_shift_change',
      'suite_ticket', 'tmp_auth_code', 'change_auth', 'suite_relieve', 'org_suite_auth'];
    for (const type of types) {
      const key = contentKeyOf(normalisePayload(sampleEvent(type, { corpId: CORP, now: NOW })));
      if (URL_CHECK_EVENTS.has(type)) continue;
      if (NO_ID.includes(type)) should.equal(key, undefined, type);
      else should(key).be.a.String().and.match(/^key:[0-9a-f]{32}$/, type);
    }
  });

  it('carries the business fields the catalogue lists for each type', function () {
    for (const entry of CATALOGUE) {
      const event = sampleEvent(entry.type, { corpId: CORP, now: NOW });
      for (const field of entry.fields) event.should.have.property(field);
    }
  });

  it('has the fixture\'s field names, and the console envelope where the fixture has one', function () {
    for (const { type, mainIsLegacyShape } of readJson('fixtures', 'events', 'index.json')) {
      if (!types.includes(type)) continue;
      const event = sampleEvent(type);
      const fixture = type === 'org_suite_auth'
        ? JSON.parse(readJson('fixtures', 'events', 'stream', `${type}.json`).data) // Stream only
        : readJson('fixtures', 'events', `${type}.json`);
      if (type === 'org_suite_auth' || !mainIsLegacyShape || type === 'attendance_schedule_change') {
        event.should.have.properties('EventType', 'EventTime', 'CorpId', 'BizId', 'eventId');
        event.eventId.should.match(/^[0-9a-f]{32}$/);
      } else {
        event.should.not.have.property('eventId');
      }
      for (const key of Object.keys(fixture)) if (key !== 'permanentCode') event.should.have.property(key); // deprecated
    }
  });

  it('mints a fresh event id (and fresh per-event ids) on every call, or takes the one given', function () {
    const ids = new Set();
    const instances = new Set();
    for (let i = 0; i < 50; i++) {
      ids.add(sampleEvent('user_add_org', { now: NOW }).eventId);
      instances.add(sampleEvent('bpms_instance_change', { now: NOW }).processInstanceId);
    }
    ids.size.should.equal(50);
    instances.size.should.equal(50);
    sampleEvent('org_change', { id: 'fixed-id' }).eventId.should.equal('fixed-id');
    // Shapes without an eventId still differ per call where DingTalk mints a value (ticket, auth code).
    eventIdOf(sampleEvent('suite_ticket', { now: NOW })).should.not.equal(eventIdOf(sampleEvent('suite_ticket', { now: NOW })));
  });

  it('keeps Chinese text intact through JSON', function () {
    const event = JSON.parse(JSON.stringify(sampleEvent('bpms_instance_change')));
    event.title.should.equal('张三提交的请假');
    sampleEvent('user_modify_org').diffInfo.prev.name.should.equal('张三');
    JSON.parse(sampleEvent('label_conf_modify').postLabelList[0]).name.should.equal('人事主管');
  });

  it('takes its times from now: EventTime, string timeStamp for contacts, number for chats', function () {
    sampleEvent('user_add_org', { now: NOW }).timeStamp.should.be.a.String();
    sampleEvent('chat_quit', { now: NOW }).timeStamp.should.be.a.Number();
    sampleEvent('attend_bossCheck_change', { now: NOW }).workDate.should.equal('2026-05-20 00:00:00');
    sampleEvent('bpms_task_change', { now: NOW }).taskId.should.be.a.Number();
  });

  it('rejects an unknown type with a message that names it and says how to list the valid ones', function () {
    for (const bad of ['no_such_event', 'toString', '']) {
      (() => sampleEvent(bad)).should.throw(new RegExp(`"${bad}".*dingtalk-sim types`));
    }
  });
});
