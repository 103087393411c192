/**
 * Which dispatch nodes and receivers the deployed flows hold, for the store's housekeeper: a queue or
 * inbox rows whose node is not among them are orphans. Read from the deployed configuration
 * (RED.nodes.eachNode), so a node on a disabled tab, or disabled itself, still counts: its queue waits.
 * A node inside a subflow runs under the id `<instance id>-<node id>` (Node-RED's Subflow.js), one per
 * instance and nested the same way, so those ids are derived too; any node running under an id not
 * derived here (a subflow module) is found by RED.nodes.getNode.
 */
import type { NodeAPI } from 'node-red';
import type { DeployedNodes } from '../core/store/housekeeper';

/** A Stream app's receiver key in the inbox (dingtalk-app): its events belong to the app node. */
export const STREAM_RECEIVER_PREFIX = 'stream:';
export const streamReceiverKey = (appId: string) => `${STREAM_RECEIVER_PREFIX}${appId}`;

interface ConfigNode {
  id: string;
  type: string;
  z?: string;
}

const SUBFLOW_INSTANCE = 'subflow:';
/** Deeper nesting than this is a loop in a broken configuration, not a flow. */
const MAX_DEPTH = 16;

/** Every id a node of this configuration runs under (or would, on a disabled tab). */
export function deployedIds(config: readonly ConfigNode[]): Set<string> {
  const ids = new Set<string>();
  const members = new Map<string, ConfigNode[]>();
  const subflows = new Set(config.filter((n) => n.type === 'subflow').map((n) => n.id));
  for (const node of config) {
    ids.add(node.id);
    if (node.z && subflows.has(node.z)) members.set(node.z, [...(members.get(node.z) ?? []), node]);
  }
  const expand = (instanceId: string, subflowId: string, depth: number) => {
    if (depth > MAX_DEPTH) return;
    for (const member of members.get(subflowId) ?? []) {
      const id = `${instanceId}-${member.id}`;
      ids.add(id);
      if (member.type.startsWith(SUBFLOW_INSTANCE)) expand(id, member.type.slice(SUBFLOW_INSTANCE.length), depth + 1);
    }
  };
  // Instances placed in flows (tabs); instances inside subflow definitions are expanded with their parent.
  for (const node of config) {
    if (node.type.startsWith(SUBFLOW_INSTANCE) && !(node.z && subflows.has(node.z))) expand(node.id, node.type.slice(SUBFLOW_INSTANCE.length), 1);
  }
  return ids;
}

/** The nodes deployed now, as the housekeeper asks about them. */
export function deployedNodes(RED: NodeAPI): DeployedNodes {
  const config: ConfigNode[] = [];
  RED.nodes.eachNode((node) => {
    config.push(node as unknown as ConfigNode);
  });
  const ids = deployedIds(config);
  const exists = (id: string) => ids.has(id) || Boolean(RED.nodes.getNode(id));
  return {
    subscriber: exists,
    receiver: (key) => exists(key.startsWith(STREAM_RECEIVER_PREFIX) ? key.slice(STREAM_RECEIVER_PREFIX.length) : key),
  };
}
