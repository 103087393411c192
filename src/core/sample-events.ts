/**
 * Realistic decrypted DingTalk payloads for every catalogued event type, for the simulator, the
 * editor's test button and tests. Modelled on the shared fixtures (fixtures/events/<type>.json) but
 * built in code: the published package cannot read /work/shared, and each call needs a fresh event id
 * and the caller's time and corp.
 *
 * Shapes are the ones DingTalk sends over HTTP today (dingtalk-protocol.md §10, §11):
 *   - the developer-console envelope (EventType, EventTime, CorpId, BizId, eventId) plus camelCase
 *     business fields, for company-app events;
 *   - the old PascalCase body (SuiteKey, AuthCorpId, TimeStamp; no event id) for the ISV suite events
 *     and the URL checks, which have no other published shape.
 * Values that DingTalk mints per event (instance, task, ticket and check-record ids) are fresh on
 * each call, so repeated samples are distinct events for the receiver's de-duplication too.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { randomAlphanumeric } from './cipher';
import { CATALOGUE } from './event-catalogue';

type Json = Record<string, unknown>;

export interface SampleOptions {
  /** The organisation the event belongs to (CorpId, or AuthCorpId for ISV events). */
  corpId?: string;
  /** Event time, epoch ms (default: now). */
  now?: number;
  /** The eventId to use instead of a fresh one (ignored by shapes that carry none). */
  id?: string;
}

/** What a builder gets: the resolved options. */
interface Context {
  corpId: string;
  now: number;
}

const DEFAULT_CORP_ID = 'ding5f3e8a0c7b1d2e49';
const SUITE_KEY = 'suitek3m9x2p7q4w8z5v';
const PLACEHOLDER_SUITE_KEY = 'suite4xxxxxxxxxxxxxxx';
// Invented staff: DingTalk user ids are numeric strings, or custom ones an admin typed.
const USERS = { zhang: '052634187720931465', li: '1873024569120387', wang: '239105774631260918', manager: 'manager3096' };
const UNION_IDS = { zhang: 'Kx28mPqRz4vWn0cYbL7iEiE', li: 'Tg5hNs3JdQ9rXe1aVu6iEiE', manager: 'Pm07fBkWc2yHs8LqZt4iEiE' };
const DEPT_IDS = [624118035, 624117982];
const LABEL_ID = 1702415536;
const CHAT_ID = 'chat5e0b8c2d71f94a36b8e2c4d6f1a3b579';
const OPEN_CONVERSATION_ID = 'cidQv3Lw8Zk2pYn6Xr1sT0eB9g==';
const PROCESS_CODE = 'PROC-3C8E1F0A-72B4-4D59-9E6A-1B5C7D2F8A40';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const CHINA_OFFSET = 8 * HOUR;

const hex = (bytes: number): string => randomBytes(bytes).toString('hex');
/** Midnight (China time) of the day `now` falls on, as DingTalk gives work dates. */
const workDay = (now: number): number => Math.floor((now + CHINA_OFFSET) / DAY) * DAY - CHINA_OFFSET;
/** "yyyy-MM-dd" in China time. */
const chinaDate = (now: number): string => new Date(now + CHINA_OFFSET).toISOString().slice(0, 10);
/** "yyyyMMddHHmm" in China time, the start of an approval number (审批编号). */
const compactMinute = (now: number): string => new Date(now + CHINA_OFFSET).toISOString().replace(/\D/g, '').slice(0, 12);

function approval(c: Context): Json {
  const createTime = c.now - 5 * HOUR;
  return {
    processInstanceId: randomUUID(),
    processCode: PROCESS_CODE,
    bizCategoryId: 'attendance.leave',
    businessId: compactMinute(createTime) + String(randomInt(1e8, 1e9)),
    title: '张三提交的请假',
    type: 'finish',
    result: 'agree',
    staffId: USERS.zhang,
    createTime,
    finishTime: c.now - 600,
  };
}

/** The fields every group-chat event carries (§11.5). */
const chat = (c: Context, operator = USERS.manager, operatorUnionId = UNION_IDS.manager): Json => ({
  timeStamp: c.now - 40,
  chatId: CHAT_ID,
  openConversationId: OPEN_CONVERSATION_ID,
  corpId: c.corpId,
  operator,
  operatorUnionId,
});

const label = (name: string, extra: Json = {}): string =>
  JSON.stringify({ hidden: false, name, id: LABEL_ID, ...extra, extraInfo: {} });

/** Business fields of console-shaped events; the envelope is added by sampleEvent. */
const CONSOLE: Record<string, (c: Context) => Json> = {
  user_add_org: (c) => ({ timeStamp: String(c.now - 150), userId: [USERS.zhang, USERS.li] }),
  user_modify_org: (c) => {
    const common = { managerUserid: USERS.manager, hiredDate: '2022-07-01', name: '张三', email: 'zhangsan@example.com', jobNumber: 'BJ0417' };
    return {
      timeStamp: String(c.now - 150),
      diffInfo: {
        prev: { ...common, telephone: '010-6255-0417', workPlace: '北京' },
        curr: { ...common, workPlace: '杭州' },
        userid: USERS.zhang,
      },
      userId: [USERS.zhang],
    };
  },
  user_leave_org: (c) => ({ timeStamp: String(c.now - 150), userId: [USERS.wang] }),
  user_active_org: () => ({ userId: [USERS.li] }),
  org_admin_add: (c) => ({ timeStamp: String(c.now - 150), userId: [USERS.zhang] }),
  org_admin_remove: (c) => ({ timeStamp: String(c.now - 150), userId: [USERS.manager] }),
  org_dept_create: () => ({ deptId: [DEPT_IDS[0]] }),
  org_dept_modify: () => ({ deptId: [...DEPT_IDS] }),
  org_dept_remove: () => ({ deptId: [DEPT_IDS[1]] }),
  org_remove: () => ({}),
  org_change: () => ({}),
  label_user_change: () => ({ userIdList: [USERS.zhang, USERS.li], action: 'add', labelIdList: [LABEL_ID] }),
  label_conf_add: () => ({ scope: '1', labelIdList: [LABEL_ID] }),
  label_conf_modify: () => ({
    postLabelList: [label('人事主管', { deleted: false, color: -11687445, level: 1, scope: 1, parentId: LABEL_ID + 3811 })],
    preLabelList: [label('人事专员')],
    scope: '1',
    labelIdList: [LABEL_ID],
  }),
  label_conf_del: () => ({ scope: '1', labelIdList: [LABEL_ID] }),
  bpms_instance_change: (c) => {
    const fields = approval(c);
    const url = `https://aflow.dingtalk.com/dingtalk/mobile/homepage.htm?corpid=${c.corpId}&dd_share=false&showmenu=true&back=native&procInstId=${fields.processInstanceId}&swfrom=isv&dinghash=approval#approval`;
    return { ...fields, url };
  },
  bpms_task_change: (c) => ({
    ...approval(c),
    staffId: USERS.manager, // the approver who owns the task
    taskId: randomInt(8e10, 9e10),
    remark: '同意，注意交接好手头工作',
  }),
  attendance_check_record: (c) => ({
    dataList: [
      {
        address: '北京市海淀区中关村大街27号',
        corpId: c.corpId,
        checkTime: c.now - 3000,
        locationResult: 'Normal',
        groupId: '5D17B3E0',
        latitude: 39.983424,
        bizId: hex(6).toUpperCase(),
        locationMethod: 'MAP',
        userId: USERS.zhang,
        checkByUser: true,
        longitude: 116.316833,
      },
    ],
  }),
  // Only an old-style sample is published (DataList, no envelope); the console adds its envelope to
  // every event, so this is that envelope around the published body.
  attendance_schedule_change: (c) => ({
    DataList: [
      { workDateEnd: workDay(c.now) + DAY, corpId: c.corpId, userIds: [USERS.zhang, USERS.li], type: 'modify', workDateBegin: workDay(c.now) },
    ],
  }),
  attendance_overtime_duration: (c) => ({
    dataList: [
      {
        workHoursPerDay: 8,
        overtimeDayType: 'workDay',
        workDate: workDay(c.now),
        overtimeDay: 0.25,
        corpId: c.corpId,
        action: 'modify',
        overtimeHour: 2,
        vacationRate: 1,
        workMinutesPerDay: 480,
        userid: USERS.zhang,
        key: `${c.corpId};${USERS.zhang};${chinaDate(c.now).replace(/-/g, '')}`,
        timestamp: c.now - 300,
      },
    ],
  }),
  attend_group_change: (c) => ({ corpid: c.corpId, name: '北京总部考勤组', action: 'attend_group_update', id: 612093347 }),
  attend_shift_change: (c) => ({ corpid: c.corpId, name: '早班 09:00-18:00', action: 'attend_shift_update', id: '804152296' }),
  attendance_approve_status_change: (c) => {
    const processInstanceId = randomUUID();
    return { approveType: 'LEAVE', processInstanceId, mainProcessInstanceId: processInstanceId, corpId: c.corpId, processCode: PROCESS_CODE, status: 'start' };
  },
  attend_bossCheck_change: (c) => ({ workDate: `${chinaDate(c.now)} 00:00:00`, action: 'attend_bossCheck_update', planId: 91024536018, userId: USERS.zhang }),
  check_in: (c) => ({ timeStamp: c.now - 2000, staffId: USERS.li }),
  // The doc sample repeats eventType inside the body of chat_add_member.
  chat_add_member: (c) => ({ ...chat(c), eventType: 'chat_add_member', userId: [USERS.zhang, USERS.li], unionId: [UNION_IDS.zhang, UNION_IDS.li] }),
  chat_remove_member: (c) => ({ ...chat(c), userId: [USERS.li], unionId: [UNION_IDS.li] }),
  chat_quit: (c) => chat(c, USERS.zhang, UNION_IDS.zhang), // operator = the member who left
  chat_update_owner: (c) => ({ ...chat(c), owner: USERS.zhang }),
  chat_update_title: (c) => ({ ...chat(c), title: '产品研发周会群' }),
  chat_disband: (c) => chat(c),
  chat_template_change: (c) => ({ ...chat(c), templateId: randomUUID(), status: 'on', changedTimeStamp: c.now - 45 }),
  // Stream/SyncHTTP only (ISV): the Stream data under the console envelope, without the deprecated permanentCode.
  org_suite_auth: (c) => ({
    authCorpInfo: { corpid: c.corpId, corpName: '云杉科技', fullCorpName: '杭州云杉科技有限公司', industry: '互联网', isAuthenticated: true, authLevel: 2, corpType: 0 },
    authInfo: { agent: [{ agentid: 3308172245, appid: 131507, agentName: '请假审批助手', adminList: [USERS.manager] }] },
    authUserInfo: { userId: USERS.manager },
    authScope: { errcode: 0, errmsg: 'ok', authUserField: ['jobnumber'], authOrgScopes: { authedDept: [1] } },
  }),
};

/** Old-style bodies (ISV suite events, URL checks): complete payloads, no envelope, no event id. */
const OLD_STYLE: Record<string, (c: Context) => Json> = {
  check_url: () => ({ EventType: 'check_url' }),
  check_create_suite_url: () => ({ EventType: 'check_create_suite_url', Random: randomAlphanumeric(8), TestSuiteKey: PLACEHOLDER_SUITE_KEY }),
  check_update_suite_url: () => ({ EventType: 'check_update_suite_url', Random: randomAlphanumeric(8), TestSuiteKey: SUITE_KEY }),
  suite_ticket: (c) => ({ SuiteKey: SUITE_KEY, EventType: 'suite_ticket', TimeStamp: c.now, SuiteTicket: randomAlphanumeric(38) }),
  tmp_auth_code: (c) => ({ TimeStamp: c.now, AuthCode: hex(16), AuthCorpId: c.corpId, EventType: 'tmp_auth_code', SuiteKey: SUITE_KEY }),
  change_auth: (c) => ({ SuiteKey: SUITE_KEY, EventType: 'change_auth', TimeStamp: c.now, AuthCorpId: c.corpId }),
  // The doc sample has TimeStamp as a string here.
  suite_relieve: (c) => ({ EventType: 'suite_relieve', SuiteKey: SUITE_KEY, TimeStamp: String(c.now), AuthCorpId: c.corpId }),
  org_micro_app_stop: (c) => microApp('org_micro_app_stop', c),
  org_micro_app_restore: (c) => microApp('org_micro_app_restore', c),
};

function microApp(type: string, c: Context): Json {
  return { AgentId: 3308172245, AppId: 131507, AuthCorpId: c.corpId, EventType: type, SuiteKey: SUITE_KEY, TimeStamp: c.now };
}

/** Every type sampleEvent can build, in catalogue order. */
export function sampleEventTypes(): string[] {
  return CATALOGUE.map((entry) => entry.type).filter((type) => Object.hasOwn(CONSOLE, type) || Object.hasOwn(OLD_STYLE, type));
}

/** A fresh decrypted payload of `type`, as DingTalk pushes it. Throws for a type it cannot build. */
export function sampleEvent(type: string, opts: SampleOptions = {}): Json {
  const c: Context = { corpId: opts.corpId ?? DEFAULT_CORP_ID, now: opts.now ?? Date.now() };
  // hasOwn, so that "toString" and friends are unknown types rather than Object.prototype members.
  if (Object.hasOwn(OLD_STYLE, type)) return OLD_STYLE[type](c);
  const fields = Object.hasOwn(CONSOLE, type) ? CONSOLE[type] : undefined;
  if (!fields) {
    throw new Error(`no sample for event type "${type}"; list the valid types with sampleEventTypes() (CLI: dingtalk-sim types)`);
  }
  const envelope: Json = { EventType: type, EventTime: c.now, CorpId: c.corpId, BizId: String(c.now), eventId: opts.id ?? hex(16) };
  return { ...envelope, ...fields(c) };
}
