/**
 * RED.nodes.registerType with a constructor whose `this` is our own node interface. The published
 * typings (describing Node-RED ~1.3) cannot express a node with extra members, hence this one cast.
 */
import type { NodeAPI } from 'node-red';

type Constructor = (this: never, def: never) => void;
type Options = { credentials?: Record<string, { type: 'text' | 'password' }>; settings?: Record<string, { value: unknown; exportable?: boolean }> };

export function registerType(RED: NodeAPI, type: string, constructor: Constructor, options?: Options): void {
  (RED.nodes.registerType as unknown as (type: string, c: Constructor, o?: Options) => void)(type, constructor, options);
}
