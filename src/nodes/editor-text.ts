/**
 * Texts the editor shows in its own language: a message key plus parameters, translated in the browser.
 *
 * Node-RED sends a node's status to the editor as {text, fill, shape} only, and the editor translates a
 * text that is a message key but has no way to pass it parameters, so a count or an error reason would be
 * rendered in the runtime's language. Here each status is also published, as a key with its parameters,
 * on the comms topic `dingtalk-hub/status/<node id>` (retained, so an editor that connects, reconnects or
 * loads the package's script later gets the current one); resources/dingtalk-editor.js translates it with
 * the node's catalogue and redraws the status. The status text itself stays readable, rendered in the
 * runtime's language, for status nodes, dashboards and editors without the script.
 *
 * Admin routes answer with the same shape ({error, params} where a parameter may itself be a Text), and
 * the editor renders their notifications from it.
 */
import type { Node, NodeAPI } from 'node-red';

export interface Text {
  /** A message key: "<node type>.a.b", or "<package>/<node file>:<node type>.a.b" for another file's catalogue. */
  key: string;
  params?: TextParams;
}

export type TextParams = Record<string, string | number | Text>;

export const STATUS_TOPIC = 'dingtalk-hub/status/';

/** Shorthand for a Text. */
export const text = (key: string, params?: TextParams): Text => (params ? { key, params } : { key });

function isText(value: unknown): value is Text {
  return typeof value === 'object' && value !== null && typeof (value as Text).key === 'string';
}

/** The text in the runtime's language (RED._), parameters that are Texts rendered first. */
export function renderText(RED: NodeAPI, value: Text): string {
  const params: Record<string, string | number> = {};
  for (const [name, param] of Object.entries(value.params ?? {})) params[name] = isText(param) ? renderText(RED, param) : param;
  return RED._(value.key, params);
}

type Fill = 'red' | 'green' | 'yellow' | 'blue' | 'grey';
type Shape = 'ring' | 'dot';

export interface StatusPainter {
  /** Shows a status whose text the editor translates with its parameters. */
  show(fill: Fill, shape: Shape, value: Text): void;
  /** Clears the status. */
  clear(): void;
}

type Comms = { publish?: (topic: string, data: unknown, retain?: boolean) => void };

/**
 * The status of one node, published for the editor too. When the node is deleted (close with removed) the
 * retained copy is dropped, so the runtime does not keep texts of nodes that no longer exist.
 */
export function statusPainter(RED: NodeAPI, node: Node): StatusPainter {
  const comms = (RED as unknown as { comms?: Comms }).comms;
  const publish = (data: unknown, retain: boolean) => comms?.publish?.(STATUS_TOPIC + node.id, data, retain);
  // Two parameters: Node-RED passes `removed` only to a close handler that also takes `done`.
  node.on('close', (removed: boolean, done: () => void) => {
    if (removed) publish(null, false);
    done();
  });
  return {
    show(fill, shape, value) {
      const rendered = renderText(RED, value);
      node.status({ fill, shape, text: rendered });
      // The editor applies it only to a status with this very text (the two messages may arrive in either order).
      publish({ text: rendered, key: value.key, params: value.params ?? {} }, true);
    },
    clear() {
      node.status({});
      publish(null, false);
    },
  };
}
