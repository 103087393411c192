/**
 * What a dispatch node's admin actions answer: replaying dead letters and exporting them. Two sets of
 * routes use them: dingtalk-dispatch's own (the node's dialog, /dingtalk-dispatch/:id/...) and the event
 * center's (the sidebar, /dingtalk-event-center/...), each behind its own permissions; the work and the
 * answers are the same, and are here once.
 */
import type { Response } from 'express';
import type { NodeAPI } from 'node-red';
import type { DispatchNode } from './dingtalk-dispatch';

/** Dead letters exported at most this many per page read from the store. */
const EXPORT_PAGE = 500;

/** The deployed dispatch node with this id, or undefined. */
export function dispatchNode(RED: NodeAPI, id: unknown): DispatchNode | undefined {
  if (typeof id !== 'string' || id === '') return undefined;
  const node = RED.nodes.getNode(id) as DispatchNode | null;
  return node && node.type === 'dingtalk-dispatch' ? node : undefined;
}

/** The store's words (runtime's language) go to the node's log; the editor gets a code it translates. */
export function storeFailed(RED: NodeAPI, node: DispatchNode, res: Response, err: Error): void {
  node.warn(RED._('dingtalk-dispatch.errors.store-failing', { message: String(err?.message ?? err) }));
  if (!res.headersSent) res.status(500).json({ error: 'store' });
}

/**
 * Queues again one dead letter (`rawId`, the delivery's id) or, without one, every dead letter of the
 * node; answers {replayed}. A `rawId` that is not an integer is a 400.
 */
export function replayDeadLetters(RED: NodeAPI, node: DispatchNode, rawId: unknown, res: Response): void {
  const id = rawId === undefined || rawId === null || rawId === '' ? undefined : Number(rawId);
  if (id !== undefined && !Number.isSafeInteger(id)) return void res.status(400).json({ error: 'id', params: { id: String(rawId) } });
  node.replay(id).then(
    (replayed) => res.json({ replayed }),
    (err: Error) => storeFailed(RED, node, res, err),
  );
}

/**
 * Every dead letter of the node with its event, as a JSON file, read from the store a page at a time
 * and written as it goes (a long list is never held whole). The signed body stays out: the event's
 * payload and its dingtalk facts are what the file holds.
 */
export async function exportDeadLetters(RED: NodeAPI, node: DispatchNode, res: Response): Promise<void> {
  try {
    let page = await node.deliveries('dead', EXPORT_PAGE, 0);
    res.status(200).type('application/json');
    res.setHeader('Content-Disposition', `attachment; filename="dead-letters-${node.id.replace(/[^\w.-]/g, '_')}.json"`);
    res.write('[');
    let first = true;
    for (let offset = 0; page.length > 0; page = page.length < EXPORT_PAGE ? [] : await node.deliveries('dead', EXPORT_PAGE, (offset += EXPORT_PAGE))) {
      for (const { body, ...rest } of page) {
        const event = JSON.parse(body) as { payload?: unknown; dingtalk?: unknown };
        res.write(`${first ? '' : ','}\n${JSON.stringify({ ...rest, payload: event.payload ?? null, dingtalk: event.dingtalk ?? {} })}`);
        first = false;
      }
    }
    res.end(']\n');
  } catch (err) {
    if (res.headersSent) res.destroy(err as Error); // a cut-off file, not a valid one with letters missing
    else storeFailed(RED, node, res, err as Error);
  }
}
