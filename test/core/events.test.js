'use strict';
const should = require('should');
const fs = require('node:fs');
const path = require('node:path');
const {
  catalogueEntry, groupOf, catalogueForEditor, describeEvent, eventIdOf, eventTypeOf, corpIdOf, eventTimeOf, contentId,
  normalisePayload, payloadFromFailedEntry, streamData, isStreamFrame, canonicalJson, URL_CHECK_EVENTS, LEGACY_FIELD_NAMES,
} = require('../../core/events');
const { GROUPS, CATALOGUE } = require('../../core/event-catalogue');
const { SHARED, readJson } = require('../support/shared');

const DIR = path.join(SHARED, 'fixtures', 'events');
const list = (sub) => fs.readdirSync(path.join(DIR, sub)).filter((f) => f.endsWith('.json') && f !== 'index.json').sort();
const load = (sub, f) => {
  const text = fs.readFileSync(path.join(DIR, sub, f), 'utf8');
  return { text, json: JSON.parse(text), type: f.split('.')[0] };
};

// The groups of issue #3, written out independently of the catalogue.
const EXPECTED_GROUP = {
  contact: ['user_add_org', 'user_modify_org', 'user_leave_org', 'user_active_org', 'org_admin_add', 'org_admin_remove'],
  department: ['org_dept_create', 'org_dept_modify', 'org_dept_remove'],
  organization: ['org_remove', 'org_change', 'org_micro_app_stop', 'org_micro_app_restore'],
  role: ['label_user_change', 'label_conf_add', 'label_conf_modify', 'label_conf_del'],
  approval: ['bpms_instance_change', 'bpms_task_change'],
  attendance: ['attendance_check_record', 'attendance_schedule_change', 'attendance_overtime_duration', 'attend_group_change',
    'attend_shift_change', 'attendance_approve_status_change', 'attend_bossCheck_change'],
  checkin: ['check_in'],
  chat: ['chat_add_member', 'chat_remove_member', 'chat_quit', 'chat_update_owner', 'chat_update_title', 'chat_disband', 'chat_template_change'],
  isv: ['suite_ticket', 'tmp_auth_code', 'change_auth', 'suite_relieve', 'check_create_suite_url', 'check_update_suite_url', 'org_suite_auth'],
  system: ['check_url'],
};
const expectedGroup = (type) => Object.keys(EXPECTED_GROUP).find((g) => EXPECTED_GROUP[g].includes(type));

describe('core/events', function () {
  describe('catalogue', function () {
    it('covers every event type of the fixtures, in the group the issue names', function () {
      const types = new Set(readJson('fixtures', 'events', 'index.json').map((e) => e.type));
      types.size.should.be.aboveOrEqual(42);
      for (const type of types) {
        should.exist(catalogueEntry(type), `${type} missing from the catalogue`);
        should(groupOf(type)).equal(expectedGroup(type), type);
      }
      CATALOGUE.length.should.equal(Object.values(EXPECTED_GROUP).flat().length);
    });

    it('labels every group and event in both languages, with a documentation link', function () {
      GROUPS.map((g) => g.id).should.eql(Object.keys(EXPECTED_GROUP));
      const { groups, events } = catalogueForEditor();
      for (const item of [...groups, ...events]) {
        item.label['en-US'].should.be.a.String().and.not.be.empty();
        item.label['zh-CN'].should.match(/[\u4e00-\u9fff]/);
      }
      events.forEach((ev) => ev.doc.should.startWith('https://open.dingtalk.com/document/development/'));
      new Set(events.map((ev) => ev.type)).size.should.equal(events.length);
    });

    it('knows nothing of unknown types', function () {
      should(catalogueEntry('brand_new_event')).be.undefined();
      should(groupOf('brand_new_event')).be.undefined();
    });
  });

  describe('facts from every fixture shape', function () {
    for (const f of list('')) {
      it(`console/top level ${f}`, function () {
        const { text, json, type } = load('', f);
        const info = describeEvent(json, 'http', { plaintext: text, receivedAt: 1 });
        info.eventType.should.equal(type);
        should(groupOf(info.eventType)).equal(expectedGroup(type));
        if (json.eventId) info.eventId.should.equal(json.eventId);
        else info.eventId.should.equal(contentId(text));
        if (json.CorpId) info.corpId.should.equal(json.CorpId);
        if (json.EventTime) info.eventTime.should.equal(json.EventTime);
        else if (json.TimeStamp) info.eventTime.should.equal(Number(json.TimeStamp));
      });
    }

    for (const f of list('legacy')) {
      it(`legacy ${f}`, function () {
        const { text, json, type } = load('legacy', f);
        const info = describeEvent(json, 'http', { plaintext: text });
        info.eventType.should.equal(type);
        info.eventId.should.equal(contentId(text)); // legacy pushes carry no id
        should(info.corpId).equal(json.CorpId || json.corpId || json.corpid);
        should(info.eventTime).equal(json.TimeStamp);
      });
    }

    for (const f of list('stream')) {
      it(`stream frame ${f}`, function () {
        const { json: frame, type } = load('stream', f);
        isStreamFrame(frame).should.be.true();
        const info = describeEvent(frame, 'stream');
        info.eventType.should.equal(type);
        info.eventId.should.equal(frame.headers.eventId);
        info.corpId.should.equal(frame.headers.eventCorpId);
        info.eventTime.should.equal(Number(frame.headers.eventBornTime));
        should(streamData(frame)).be.an.Object();
        // the same event pushed over HTTP has the same facts
        if (fs.existsSync(path.join(DIR, f))) {
          const console = load('', f).json;
          if (console.eventId) {
            describeEvent(console, 'http').should.have.properties({ eventId: info.eventId, corpId: info.corpId, eventTime: info.eventTime });
            Object.keys(streamData(frame)).forEach((k) => console.should.have.property(k));
          }
        }
      });
    }

    for (const f of list('variants')) {
      it(`approval variant ${f}`, function () {
        const { json, type } = load('variants', f);
        const info = describeEvent(json, 'http');
        info.eventType.should.equal(type);
        info.eventId.should.equal(json.eventId);
        groupOf(type).should.equal('approval');
        json.type.should.equal(f.split('.')[1] === 'refuse' || f.split('.')[1] === 'redirect' ? 'finish' : f.split('.')[1]);
      });
    }

    it('failed-events list entries (§9.3), including a string body', function () {
      const entries = [
        { call_back_tag: 'user_add_org', event_time: 1606126433000, user_add_org: { userid: ['zhangsan'], corpid: 'dingc1' } },
        { call_back_tag: 'bpms_instance_change', event_time: 1606126433000, bpms_instance_change: { bpmsCallBackData: { processInstanceId: 'p1', type: 'finish', result: 'agree' }, corpid: 'dingc1' } },
        { call_back_tag: 'user_modify_org', event_time: 1606126433000, user_modify_org: '{corpid=dingc1}' },
      ];
      for (const entry of entries) {
        const info = describeEvent(entry, 'recovery');
        info.eventType.should.equal(entry.call_back_tag);
        info.eventTime.should.equal(1606126433000);
        info.eventId.should.equal(contentId(canonicalJson(entry)));
      }
      describeEvent(entries[0], 'recovery').corpId.should.equal('dingc1');
      should(describeEvent(entries[2], 'recovery').corpId).be.undefined();
      payloadFromFailedEntry(entries[0]).should.eql({ EventType: 'user_add_org', EventTime: 1606126433000, CorpId: 'dingc1', userId: ['zhangsan'] });
      payloadFromFailedEntry(entries[1]).should.eql({ EventType: 'bpms_instance_change', EventTime: 1606126433000, CorpId: 'dingc1', processInstanceId: 'p1', type: 'finish', result: 'agree' });
    });

    it('is defensive: trims types, reads numeric strings, ignores junk', function () {
      eventTypeOf({ EventType: 'suite_ticket ' }).should.equal('suite_ticket');
      eventTypeOf(null).should.equal('');
      eventTypeOf('text').should.equal('');
      should(corpIdOf(42)).be.undefined();
      eventTimeOf({ TimeStamp: '1717000000' }).should.equal(1717000000000);
      should(eventTimeOf({ TimeStamp: 'soon' })).be.undefined();
      eventIdOf({ a: 1, b: 2 }).should.equal(eventIdOf({ b: 2, a: 1 }));
      [...URL_CHECK_EVENTS].sort().should.eql(['check_create_suite_url', 'check_update_suite_url', 'check_url']);
    });
  });

  describe('contentKeyOf', function () {
    const { contentKeyOf } = require('../../core/events');
    it('gives a live push, its legacy shape and its failed-list entry the same key', function () {
      const consoleShape = { EventType: 'user_add_org', EventTime: 1717000001456, CorpId: 'c1', eventId: 'x', timeStamp: '1717000001400', userId: ['b', 'a'] };
      const legacy = normalisePayload({ EventType: 'user_add_org', TimeStamp: 1717000001456, UserId: ['a', 'b'], CorpId: 'c1' });
      const failed = payloadFromFailedEntry({ call_back_tag: 'user_add_org', event_time: 1717000001456, user_add_org: { userid: ['a', 'b'], corpid: 'c1' } });
      const key = contentKeyOf(consoleShape);
      key.should.match(/^key:[0-9a-f]{32}$/);
      contentKeyOf(legacy).should.equal(key);
      contentKeyOf(failed).should.equal(key);
      contentKeyOf({ ...consoleShape, EventTime: 1717000001457 }).should.not.equal(key); // another edit, a moment later
      contentKeyOf({ ...consoleShape, userId: ['a'] }).should.not.equal(key);
    });

    it('keys approvals by instance, type, result and task, and refuses to guess without them', function () {
      const a = { EventType: 'bpms_task_change', CorpId: 'c', processInstanceId: 'p', type: 'finish', result: 'agree', taskId: 5, staffId: 's' };
      contentKeyOf(a).should.equal(contentKeyOf({ ...a, EventTime: 1, title: 'other text' }));
      contentKeyOf(a).should.not.equal(contentKeyOf({ ...a, result: 'refuse' }));
      contentKeyOf(a).should.not.equal(contentKeyOf({ ...a, taskId: 6 }));
      should(contentKeyOf({ EventType: 'bpms_task_change' })).be.undefined();
      should(contentKeyOf({ EventType: 'org_change', CorpId: 'c' })).be.undefined(); // no time: cannot tell two apart
      should(contentKeyOf({})).be.undefined();
    });

    it('no key for events that name no id: two clock-ins of different people in one millisecond stay two', function () {
      const clockIn = (user) => ({ EventType: 'attendance_check_record', EventTime: 1747708332345, CorpId: 'c', dataList: [{ userId: user, checkTime: 1 }] });
      should(contentKeyOf(clockIn('alice'))).be.undefined();
      should(contentKeyOf(clockIn('bob'))).be.undefined();
      should(contentKeyOf({ EventType: 'org_micro_app_stop', EventTime: 1, CorpId: 'c', AgentId: 7 })).be.undefined();
      // an approval-related attendance event is keyed by its instance
      const leave = { EventType: 'attendance_approve_status_change', EventTime: 1, CorpId: 'c', processInstanceId: 'p1' };
      contentKeyOf(leave).should.not.equal(contentKeyOf({ ...leave, processInstanceId: 'p2' }));
    });

    it('scopes a key to the app that received the event', function () {
      const { scopeContentKey } = require('../../core/events');
      const key = contentKeyOf({ EventType: 'user_add_org', EventTime: 1, CorpId: 'c', userId: ['u'] });
      scopeContentKey('app-1', key).should.equal(`app-1/${key}`);
      scopeContentKey('app-1', key).should.not.equal(scopeContentKey('app-2', key));
      should(scopeContentKey('app-1', undefined)).be.undefined();
    });
  });

  describe('normalisePayload', function () {
    it('gives a legacy fixture the field names of its console counterpart', function () {
      for (const f of list('legacy')) {
        const legacy = normalisePayload(load('legacy', f).json);
        const console = normalisePayload(load('', f).json);
        const documented = catalogueEntry(console.EventType).fields;
        for (const key of Object.keys(legacy)) {
          // every field name of the legacy event is a console one (the chat_update_owner sample omits chatId)
          if (!(key in console)) documented.should.containEql(key, `${f}: ${key}`);
        }
        Object.keys(legacy).filter((k) => /^[A-Z]/.test(k)).forEach((k) => ['EventType', 'EventTime', 'CorpId'].should.containEql(k));
      }
    });

    it('maps values, not just names', function () {
      const legacy = load('legacy', 'chat_update_title.json').json;
      const out = normalisePayload(legacy);
      out.should.have.properties({ chatId: legacy.ChatId, title: legacy.Title, operator: legacy.Operator, timeStamp: legacy.TimeStamp, EventTime: legacy.TimeStamp, CorpId: legacy.CorpId });
      const bpms = normalisePayload(load('legacy', 'bpms_instance_change.json').json);
      bpms.CorpId.should.equal('ding7a3f9c21e5b04d18');
      bpms.should.not.have.property('corpId');
      const dept = normalisePayload(load('legacy', 'org_dept_create.json').json);
      dept.should.not.have.property('timeStamp'); // the console event has none: TimeStamp only fills EventTime
      dept.EventTime.should.equal(load('legacy', 'org_dept_create.json').json.TimeStamp);
      Object.keys(LEGACY_FIELD_NAMES).forEach((k) => k.should.match(/^[A-Z]/));
    });

    it('leaves console payloads and ISV events as they are, and never modifies its input', function () {
      for (const f of list('')) {
        const json = load('', f).json;
        const copy = JSON.parse(JSON.stringify(json));
        const out = normalisePayload(json);
        json.should.eql(copy);
        if (json.eventId || catalogueEntry(eventTypeOf(json))?.group === 'isv') out.should.eql(json);
      }
    });
  });
});
