/**
 * The runtime's one hand-off tracker (core/handoff/tracker), fed by two of Node-RED's messaging hooks
 * (onSend, onComplete). The hooks are added only while an acknowledged event has messages in the flow
 * and removed when the last one has finished, so a runtime whose DingTalk events are all handed on pays
 * nothing for them; while they are on, every message costs Node-RED's hook call and one Map lookup of its
 * `_msgid` per send and per done.
 */
import type { NodeAPI } from 'node-red';
import { HandoffTracker, type NodeRef } from '../core/handoff/tracker';
import { nodeText } from './app-texts';
import { onFlowsStarted, onFlowsStopping } from './runtime-events';

/** A message held this long by one node counts as finished there (nodes that never call `done`). */
export const DEFAULT_HANDOFF_SECONDS = 600;

const LABEL = 'dingtalkHandoff';
const HOOKS = ['onSend', 'onComplete'] as const;

type AnyNode = {
  id: string;
  type: string;
  _flow?: { getNode(id: string): unknown };
  _expectedDoneCount?: number;
  _inputCallback?: ((...args: unknown[]) => void) | null;
  _inputCallbacks?: ((...args: unknown[]) => void)[] | null;
  receive(msg: unknown): void;
};
type Msg = { _msgid?: string };
type SendEvent = { msg: Msg; source: { id: string; node?: AnyNode }; destination: { id: string; node?: AnyNode } };
type CompleteEvent = { msg: Msg; error?: unknown; node: { id: string; node: AnyNode } };
type Hooks = { add(id: string, fn: (event: never) => void): void; remove(id: string): void; has(id: string): boolean };

/** One tracker per runtime, and the runtime's newest node API (a test harness may hand out several). */
const trackers = new WeakMap<object, { tracker: HandoffTracker; red: NodeAPI }>();

const ref = (node: AnyNode): NodeRef => ({ id: node.id, type: node.type, instance: node });

/**
 * Whether a node reports `done` for each message. Node-RED counts the input handlers that take a third
 * argument (`_expectedDoneCount`, 4.x); a node without one finishes with a message when its handler returns.
 */
function callsDone(node: AnyNode): boolean {
  if (typeof node._expectedDoneCount === 'number') return node._expectedDoneCount > 0;
  if (node._inputCallback) return node._inputCallback.length >= 3;
  return (node._inputCallbacks ?? []).some((cb) => cb.length >= 3);
}

function positive(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

export function handoffTracker(RED: NodeAPI): HandoffTracker {
  const key = RED.events as unknown as object;
  const existing = trackers.get(key);
  if (existing) {
    existing.red = RED;
    return existing.tracker;
  }
  const state = { tracker: undefined as unknown as HandoffTracker, red: RED };
  // Node-RED has given nodes RED.hooks since 2.0; a runtime without it (some test harnesses) cannot see
  // messages finish, so there every event counts as handed on once emitted.
  const hooks = () => (state.red as unknown as { hooks?: Hooks }).hooks;
  const stuckMs = () =>
    positive((state.red.settings as unknown as { dingtalkEventInHandoffSeconds?: number }).dingtalkEventInHandoffSeconds, DEFAULT_HANDOFF_SECONDS) * 1000;
  const live = (id: string) => (state.red.nodes.getNode(id) as unknown as object | null) ?? undefined;

  // Where the runtime will deliver a sent message: the sender's flow resolves the wire, as Flow.send does.
  const destination = (event: SendEvent): AnyNode | undefined => {
    const flow = event.source.node?._flow;
    const node = (flow ? flow.getNode(event.destination.id) : live(event.destination.id)) as AnyNode | undefined;
    return node && typeof node === 'object' ? node : undefined;
  };
  const handlers = {
    onSend: (events: SendEvent[]) => {
      let passed: string | undefined;
      for (const event of events) {
        const id = event.msg?._msgid;
        if (!tracker.follows(id)) continue;
        const node = destination(event);
        tracker.sent(id as string, node && ref(node), node ? callsDone(node) : true);
        passed = id;
      }
      // One send call passes a message on once, however many wires it took (a node without done is
      // finished with it then). The destinations are counted first, so the event never looks finished.
      const source = events[0]?.source.node;
      if (passed !== undefined && source) tracker.passedOn(passed, ref(source));
    },
    onComplete: (event: CompleteEvent) => {
      const id = event.msg?._msgid;
      if (!tracker.follows(id)) return;
      const node = event.node.node;
      tracker.completed(id as string, ref(node), event.error, node.type === 'dingtalk-dispatch', event.msg as never);
    },
  };

  const tracker = new HandoffTracker(
    {
      liveNode: live,
      newMsgId: () => state.red.util.generateId(),
      now: Date.now,
      watching(on) {
        const runtimeHooks = hooks();
        if (!runtimeHooks) return;
        for (const hook of HOOKS) {
          const id = `${hook}.${LABEL}`;
          if (on && !runtimeHooks.has(id)) runtimeHooks.add(id, handlers[hook] as (event: never) => void);
          else if (!on && runtimeHooks.has(id)) runtimeHooks.remove(id);
        }
      },
      stuck(nodeId, nodeType, seconds) {
        state.red.log.warn(state.red._(nodeText('dingtalk-event-in', 'errors.handoff-stuck'), { node: nodeId, type: nodeType, seconds }));
      },
      orphaned(receiver, count) {
        state.red.log.warn(state.red._(nodeText('dingtalk-event-in', 'errors.handoff-orphaned'), { receiver, count }));
      },
      markFailed(error) {
        state.red.log.warn(state.red._(nodeText('dingtalk-event-in', 'errors.handoff-store'), { message: (error as Error)?.message ?? String(error) }));
      },
      storeRecovered() {
        state.red.log.info(state.red._('dingtalk-event-in.log.handoff-store-recovered'));
      },
    },
    { stuckMs },
  );
  // Told once per deploy for the whole runtime, whatever the number of receivers.
  onFlowsStopping(RED, () => tracker.flowsStopping());
  onFlowsStarted(RED, () => tracker.flowsStarted());
  state.tracker = tracker;
  trackers.set(key, state);
  return tracker;
}
