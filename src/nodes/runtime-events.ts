/**
 * The runtime's deploy events, heard once for the whole runtime: one `flows:started` and one
 * `flows:stopping` listener on RED.events, whatever the number of nodes, and the nodes subscribe here.
 * One listener per node (a receiver with recovery on, each app) went past Node's limit of ten listeners
 * per event on every full deploy of a larger flow, and Node printed MaxListenersExceededWarning, which
 * users rightly read as a leak.
 */
import type { NodeAPI } from 'node-red';

type Listener = () => void;

interface RuntimeEvents {
  started: Set<Listener>;
  stopping: Set<Listener>;
  /** Between flows:started and flows:stopping: the deployed flows run. */
  running: boolean;
}

/** Keyed by RED.events: one per runtime, whatever the number of node modules (each has its own RED). */
const runtimes = new WeakMap<object, RuntimeEvents>();

/** Calls each listener once; one that throws does not keep the others from hearing the event. */
function tell(listeners: Set<Listener>, RED: NodeAPI): void {
  // A copy: a listener added while the event is told (a store opened by another listener) hears the next one.
  for (const listener of [...listeners]) {
    try {
      listener();
    } catch (err) {
      RED.log.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    }
  }
}

function runtime(RED: NodeAPI): RuntimeEvents {
  const key = RED.events as unknown as object;
  let events = runtimes.get(key);
  if (events) return events;
  const created: RuntimeEvents = { started: new Set(), stopping: new Set(), running: false };
  RED.events.on('flows:started', () => {
    created.running = true;
    tell(created.started, RED);
  });
  RED.events.on('flows:stopping', () => {
    created.running = false;
    tell(created.stopping, RED);
  });
  runtimes.set(key, created);
  events = created;
  return events;
}

/** `listener` runs after every deploy (and at start-up) once the flows have started; returns its removal. */
export function onFlowsStarted(RED: NodeAPI, listener: Listener): () => void {
  const { started } = runtime(RED);
  const own: Listener = () => listener(); // a function of its own: two subscriptions of one function both count
  started.add(own);
  return () => started.delete(own);
}

/** `listener` runs when a deploy (or shutdown) starts stopping nodes; returns its removal. */
export function onFlowsStopping(RED: NodeAPI, listener: Listener): () => void {
  const { stopping } = runtime(RED);
  const own: Listener = () => listener();
  stopping.add(own);
  return () => stopping.delete(own);
}

/** `listener` runs once, after the next start of the flows; returns its removal (a node closing before). */
export function afterNextStart(RED: NodeAPI, listener: Listener): () => void {
  const off = onFlowsStarted(RED, () => {
    off();
    listener();
  });
  return off;
}

/** Whether the deployed flows run now (flows:started heard, no flows:stopping since). */
export function flowsRunning(RED: NodeAPI): boolean {
  return runtime(RED).running;
}
