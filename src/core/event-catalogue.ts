/**
 * The DingTalk event types the hub knows (dingtalk-protocol.md §11), grouped the way integrators
 * route them. Data only: look-ups live in events.ts. Types not listed here still flow through every
 * node; they just have no group or label.
 */

export type EventGroup =
  | 'contact'
  | 'department'
  | 'organization'
  | 'role'
  | 'approval'
  | 'attendance'
  | 'checkin'
  | 'chat'
  | 'isv'
  | 'system';

export interface Labels {
  'en-US': string;
  'zh-CN': string;
}

export interface GroupEntry {
  id: EventGroup;
  label: Labels;
}

export interface CatalogueEntry {
  type: string;
  group: EventGroup;
  label: Labels;
  /** Business fields of the developer-console payload (beside the EventType/EventTime/CorpId/eventId envelope). */
  fields: readonly string[];
  /** Documentation page under https://open.dingtalk.com/document/development/. */
  doc: string;
}

export const GROUPS: readonly GroupEntry[] = [
  { id: 'contact', label: { 'en-US': 'Contacts', 'zh-CN': '通讯录用户' } },
  { id: 'department', label: { 'en-US': 'Departments', 'zh-CN': '部门' } },
  { id: 'organization', label: { 'en-US': 'Organisation and apps', 'zh-CN': '企业与应用' } },
  { id: 'role', label: { 'en-US': 'Roles (labels)', 'zh-CN': '角色' } },
  { id: 'approval', label: { 'en-US': 'Approval (OA)', 'zh-CN': '审批' } },
  { id: 'attendance', label: { 'en-US': 'Attendance', 'zh-CN': '考勤' } },
  { id: 'checkin', label: { 'en-US': 'Check-in', 'zh-CN': '签到' } },
  { id: 'chat', label: { 'en-US': 'Group chats', 'zh-CN': '群会话' } },
  { id: 'isv', label: { 'en-US': 'Third-party (ISV) suite', 'zh-CN': '第三方应用（ISV）' } },
  { id: 'system', label: { 'en-US': 'System', 'zh-CN': '系统' } },
];

const e = (type: string, group: EventGroup, en: string, zh: string, fields: string[], doc: string): CatalogueEntry => ({
  type,
  group,
  label: { 'en-US': en, 'zh-CN': zh },
  fields,
  doc,
});

const CHAT_FIELDS = ['timeStamp', 'chatId', 'openConversationId', 'corpId', 'operator', 'operatorUnionId'];
const APPROVAL_FIELDS = ['processInstanceId', 'processCode', 'bizCategoryId', 'businessId', 'title', 'type', 'result', 'staffId', 'createTime', 'finishTime'];

export const CATALOGUE: readonly CatalogueEntry[] = [
  // contacts (通讯录)
  e('user_add_org', 'contact', 'Employee joined', '通讯录用户增加', ['timeStamp', 'userId'], 'enterprise-increases-employee-events'),
  e('user_modify_org', 'contact', 'Employee changed', '通讯录用户更改', ['timeStamp', 'userId', 'diffInfo'], 'address-book-user-change'),
  e('user_leave_org', 'contact', 'Employee left', '通讯录用户离职', ['timeStamp', 'userId'], 'address-book-user-resignation'),
  e('user_active_org', 'contact', 'Employee activated', '加入企业后用户激活', ['userId'], 'user-activation-after-joining-the-enterprise'),
  e('org_admin_add', 'contact', 'Administrator added', '通讯录用户被设为管理员', ['timeStamp', 'userId'], 'user-is-set-as-administrator'),
  e('org_admin_remove', 'contact', 'Administrator removed', '通讯录用户被取消设置管理员', ['timeStamp', 'userId'], 'address-book-user-canceled-setting-administrator'),
  // departments
  e('org_dept_create', 'department', 'Department created', '通讯录企业部门创建', ['deptId'], 'create-department-event'),
  e('org_dept_modify', 'department', 'Department changed', '通讯录企业部门修改', ['deptId'], 'address-book-enterprise-department-modification'),
  e('org_dept_remove', 'department', 'Department deleted', '通讯录企业部门删除', ['deptId'], 'address-book-enterprise-department-delete'),
  // organisation and micro-apps
  e('org_remove', 'organization', 'Organisation removed', '企业被解散', [], 'the-organizational-relationship-enterprise-is-deleted'),
  e('org_change', 'organization', 'Organisation changed', '企业信息变更', [], 'enterprise-information-changes'),
  e('org_micro_app_stop', 'organization', 'App disabled', '停用应用', ['AgentId', 'AppId', 'AuthCorpId', 'SuiteKey', 'TimeStamp'], 'enable-and-disable-application-events'),
  e('org_micro_app_restore', 'organization', 'App re-enabled', '启用应用', ['AgentId', 'AppId', 'AuthCorpId', 'SuiteKey', 'TimeStamp'], 'enable-and-disable-application-events'),
  // roles (labels)
  e('label_user_change', 'role', 'Employee roles changed', '员工角色信息发生变更', ['userIdList', 'action', 'labelIdList'], 'employee-role-information-changes'),
  e('label_conf_add', 'role', 'Role added', '增加角色或角色组', ['scope', 'labelIdList'], 'add-a-role-or-role-group'),
  e('label_conf_modify', 'role', 'Role changed', '修改角色或角色组', ['scope', 'labelIdList', 'preLabelList', 'postLabelList'], 'modify-a-role-or-role-group'),
  e('label_conf_del', 'role', 'Role deleted', '删除角色或角色组', ['scope', 'labelIdList'], 'delete-a-role-or-role-group'),
  // approval (OA 审批)
  e('bpms_instance_change', 'approval', 'Approval instance changed', '审批实例开始、结束', [...APPROVAL_FIELDS, 'url'], 'event-bpms-instance-change'),
  e('bpms_task_change', 'approval', 'Approval task changed', '审批任务开始、结束、转交', [...APPROVAL_FIELDS, 'taskId', 'remark'], 'event-bpms-task-change'),
  // attendance (考勤)
  e('attendance_check_record', 'attendance', 'Clock-in recorded', '员工打卡', ['dataList'], 'employee-clock-in-event'),
  e('attendance_schedule_change', 'attendance', 'Schedule changed', '排班变更', ['DataList'], 'attendance-events'),
  e('attendance_overtime_duration', 'attendance', 'Overtime recorded', '员工加班', ['dataList'], 'employee-overtime-events'),
  e('attend_group_change', 'attendance', 'Attendance group changed', '考勤组变更', ['corpid', 'name', 'action', 'id'], 'attendance-group-change'),
  e('attend_shift_change', 'attendance', 'Shift changed', '班次变更', ['corpid', 'name', 'action', 'id'], 'intelligent-personnel-shift-change'),
  e('attendance_approve_status_change', 'attendance', 'Leave / overtime / trip status changed', '请假、加班、出差、外出状态变更', ['approveType', 'processInstanceId', 'mainProcessInstanceId', 'processCode', 'corpId', 'status'], 'leave-overtime-business-trip-out-of-office-status-change-events'),
  e('attend_bossCheck_change', 'attendance', 'Attendance result edited', '考勤结果变更', ['workDate', 'action', 'planId', 'userId'], 'change-of-attendance-results'),
  // check-in (签到)
  e('check_in', 'checkin', 'Check-in', '用户签到', ['timeStamp', 'staffId'], 'event-check-in'),
  // group chats (群会话)
  e('chat_add_member', 'chat', 'Members added to a group', '群会话添加人员', [...CHAT_FIELDS, 'userId', 'unionId'], 'group-session-add-persons'),
  e('chat_remove_member', 'chat', 'Members removed from a group', '群会话删除人员', [...CHAT_FIELDS, 'userId', 'unionId'], 'group-session-delete-persons'),
  e('chat_quit', 'chat', 'Member left a group', '群会话用户主动退群', CHAT_FIELDS, 'group-session-users-actively-withdraw-from-the-group'),
  e('chat_update_owner', 'chat', 'Group owner changed', '群会话更换群主', [...CHAT_FIELDS, 'owner'], 'group-session-change-group-master'),
  e('chat_update_title', 'chat', 'Group renamed', '群会话更换群名称', [...CHAT_FIELDS, 'title'], 'group-session-change-group-name'),
  e('chat_disband', 'chat', 'Group disbanded', '群会话解散群', CHAT_FIELDS, 'group-session-disband-group'),
  e('chat_template_change', 'chat', 'Group template switched', '群模板启用或停用', [...CHAT_FIELDS, 'templateId', 'status', 'changedTimeStamp'], 'group-templates-are-enabled-or-disabled'),
  // third-party (ISV) suites
  e('suite_ticket', 'isv', 'Suite ticket', '推送 suite_ticket', ['SuiteKey', 'TimeStamp', 'SuiteTicket'], 'push-suite-ticket-events'),
  e('tmp_auth_code', 'isv', 'Organisation authorised the suite', '企业授权开通应用', ['SuiteKey', 'AuthCorpId', 'AuthCode', 'TimeStamp'], 'enterprise-authorized-application-activation-event'),
  e('change_auth', 'isv', 'Authorisation changed', '通讯录授权范围变更', ['SuiteKey', 'AuthCorpId', 'TimeStamp'], 'address-book-authorization-scope-change-event'),
  e('suite_relieve', 'isv', 'Authorisation revoked', '解除授权', ['SuiteKey', 'AuthCorpId', 'TimeStamp'], 'revoke-authorization'),
  e('check_create_suite_url', 'isv', 'Suite URL check (create)', '校验创建套件回调 URL', ['Random', 'TestSuiteKey'], 'validating-and-updating-callback-url-events'),
  e('check_update_suite_url', 'isv', 'Suite URL check (update)', '校验更新套件回调 URL', ['Random', 'TestSuiteKey'], 'validating-and-updating-callback-url-events'),
  e('org_suite_auth', 'isv', 'Suite authorised (Stream)', '企业授权套件（Stream）', ['authCorpInfo', 'authInfo', 'authUserInfo', 'authScope'], 'event-org-suite-auth'),
  // system
  e('check_url', 'system', 'Callback URL check', '测试回调 URL', [], 'test-callback-url-events'),
];

export const DOC_BASE = 'https://open.dingtalk.com/document/development/';
