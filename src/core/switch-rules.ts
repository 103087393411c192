/**
 * The rules of `dingtalk-event-switch`, compiled once per deploy into plain predicates. The stored
 * shape is a contract (issue #3): `{t: "type", v: [...]}`, `{t: "group", v: "approval"}`,
 * `{t: "approval", v: {processCode?, kind?, type?, result?}}`, `{t: "jsonata", v: "<expr>"}`.
 * JSONata is evaluated by the node through Node-RED's own support, so here it is only recognised.
 */
import type { EventGroup } from './event-catalogue';
import { eventTypeOf, groupOf } from './events';

export type RuleConfig =
  | { t: 'type'; v: string[] }
  | { t: 'group'; v: string }
  | { t: 'approval'; v: ApprovalFilter }
  | { t: 'jsonata'; v: string };

export interface ApprovalFilter {
  processCode?: string[];
  kind?: 'instance' | 'task';
  type?: string[];
  result?: string[];
}

/** What the rules look at: the event type (and its group) and the payload. */
export interface EventView {
  type: string;
  group: EventGroup | undefined;
  payload: Record<string, unknown>;
}

export type CompiledRule =
  | { kind: 'predicate'; test: (event: EventView) => boolean }
  | { kind: 'jsonata'; expression: string }
  | { kind: 'invalid' };

const APPROVAL_TYPES: Record<'instance' | 'task', string> = { instance: 'bpms_instance_change', task: 'bpms_task_change' };

const stringList = (value: unknown): string[] | undefined =>
  Array.isArray(value) ? value.filter((x): x is string => typeof x === 'string').map((x) => x.trim()).filter(Boolean) : undefined;

/** An optional list condition: absent or empty means "any". */
function oneOf(list: string[] | undefined): (value: unknown) => boolean {
  if (!list || list.length === 0) return () => true;
  const set = new Set(list);
  return (value) => typeof value === 'string' && set.has(value);
}

export function compileRule(rule: unknown): CompiledRule {
  if (rule === null || typeof rule !== 'object') return { kind: 'invalid' };
  const { t, v } = rule as { t?: unknown; v?: unknown };
  switch (t) {
    case 'type': {
      const types = stringList(typeof v === 'string' ? [v] : v);
      if (!types || types.length === 0) return { kind: 'invalid' };
      const set = new Set(types);
      return { kind: 'predicate', test: (event) => set.has(event.type) };
    }
    case 'group':
      if (typeof v !== 'string' || v.length === 0) return { kind: 'invalid' };
      return { kind: 'predicate', test: (event) => event.group === v };
    case 'approval': {
      const filter = (v ?? {}) as Record<string, unknown>;
      if (typeof filter !== 'object') return { kind: 'invalid' };
      const kind = filter.kind === 'instance' || filter.kind === 'task' ? filter.kind : undefined;
      const types = kind ? new Set([APPROVAL_TYPES[kind]]) : new Set(Object.values(APPROVAL_TYPES));
      const code = oneOf(stringList(filter.processCode));
      const type = oneOf(stringList(filter.type));
      const result = oneOf(stringList(filter.result));
      return {
        kind: 'predicate',
        test: (event) => types.has(event.type) && code(event.payload.processCode) && type(event.payload.type) && result(event.payload.result),
      };
    }
    case 'jsonata':
      if (typeof v !== 'string' || v.trim().length === 0) return { kind: 'invalid' };
      return { kind: 'jsonata', expression: v };
    default:
      return { kind: 'invalid' };
  }
}

interface MessageLike {
  topic?: unknown;
  payload?: unknown;
  dingtalk?: { eventType?: unknown };
}

/** The event type: msg.dingtalk.eventType, else msg.topic, else the payload's EventType. */
export function eventViewOf(msg: MessageLike): EventView {
  const payload = msg.payload !== null && typeof msg.payload === 'object' && !Array.isArray(msg.payload)
    ? (msg.payload as Record<string, unknown>)
    : {};
  let type = typeof msg.dingtalk?.eventType === 'string' ? msg.dingtalk.eventType : '';
  if (!type && typeof msg.topic === 'string') type = msg.topic.trim();
  if (!type) type = eventTypeOf(payload);
  return { type, group: groupOf(type), payload };
}

/**
 * Output indexes for one event from the predicate rules; `jsonataResults` gives the outcome of the
 * JSONata rules by index (the node evaluates those). With `checkAll` false the first match wins.
 * The otherwise output (index = rules.length) is used when nothing matched and it is enabled.
 */
export function route(
  rules: readonly CompiledRule[],
  event: EventView,
  options: { checkAll: boolean; otherwise: boolean },
  jsonataResults?: ReadonlyMap<number, boolean>,
): number[] {
  const matched: number[] = [];
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    const hit = rule.kind === 'predicate' ? rule.test(event) : rule.kind === 'jsonata' ? jsonataResults?.get(i) === true : false;
    if (hit) {
      matched.push(i);
      if (!options.checkAll) break;
    }
  }
  if (matched.length === 0 && options.otherwise) matched.push(rules.length);
  return matched;
}
