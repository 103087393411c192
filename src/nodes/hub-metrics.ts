/**
 * The hub's Prometheus metrics for one Node-RED runtime (core/counters/prometheus.ts): one registry per
 * runtime, served on the admin route GET <httpAdminRoot>/dingtalk/metrics (permission dingtalk.read), and,
 * when settings.js has `dingtalkMetrics: { path: "/metrics" }`, on that path of the httpNode app for
 * scrapers (then as open as every other httpNode route: httpNodeAuth or httpNodeMiddleware protect it).
 * Each scrape reads the store once: the persisted counters, then each subscriber's queue.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { NodeAPI } from 'node-red';
import { hubCounts } from '../core/counters/counter-names';
import { HubMetrics, type MetricsSnapshot } from '../core/counters/prometheus';
import { acquireStore, type StoreLease } from '../core/store/shared-store';
import { storeSetting } from './store-location';
import { middlewareList } from '../core/http/middleware-chain';

export const METRICS_ROUTE = '/dingtalk/metrics';

interface MetricsSettings {
  dingtalkMetrics?: { path?: unknown };
  httpNodeMiddleware?: unknown;
}

/** One per runtime: keyed by the admin app (one per runtime, and per load of the test helper). */
const runtimes = new WeakMap<object, HubMetrics>();

/** The dispatch nodes deployed now: their queues are reported even while empty. */
function deployedSubscribers(RED: NodeAPI): string[] {
  const ids: string[] = [];
  RED.nodes.eachNode((node) => {
    if ((node as { type?: string }).type === 'dingtalk-dispatch') ids.push((node as { id: string }).id);
  });
  return ids;
}

/**
 * Runs `fn` with the store `dingtalkStore` names: the one the nodes hold (shared), or opened for the call
 * when no node holds it. Resolves undefined when it cannot be opened. For the metrics and any admin view of
 * the counters (lease.counters, lease.store.minuteSeries).
 */
export async function withHubStore<T>(RED: NodeAPI, fn: (lease: StoreLease) => Promise<T>): Promise<T | undefined> {
  let lease: StoreLease;
  try {
    lease = acquireStore(storeSetting(RED));
  } catch {
    return undefined;
  }
  try {
    return await fn(lease);
  } finally {
    lease.release();
  }
}

async function snapshotOf(RED: NodeAPI): Promise<MetricsSnapshot> {
  const down: MetricsSnapshot = { up: false, counts: { receivers: {}, subscribers: {} }, queues: [] };
  return (await withHubStore(RED, (lease) => snapshotFrom(RED, lease))) ?? down;
}

/** What one scrape reports: the persisted counters (read again now), then each subscriber's queue. */
async function snapshotFrom(RED: NodeAPI, lease: StoreLease): Promise<MetricsSnapshot> {
  let up = (await lease.counters.refresh()) && lease.health().state === 'up';
  const counts = hubCounts(lease.counters.totals(), lease.counters.latest());
  let queues: MetricsSnapshot['queues'] = [];
  if (up) {
    try {
      const store = lease.store;
      const subscribers = new Set([...(await store.subscribers()), ...Object.keys(counts.subscribers), ...deployedSubscribers(RED)]);
      queues = await Promise.all(
        [...subscribers].sort().map(async (subscriber) => ({
          subscriber,
          depth: (await store.counts(subscriber)).queued,
          oldestSeconds: ((await store.oldestQueuedAge(subscriber)) ?? 0) / 1000,
        })),
      );
    } catch {
      up = false;
    }
  }
  return { up, counts, queues };
}

/** The runtime's metrics; the first call registers their routes. */
export function hubMetrics(RED: NodeAPI): HubMetrics {
  const key = (RED.httpAdmin ?? RED.events) as unknown as object;
  let metrics = runtimes.get(key);
  if (metrics) return metrics;
  const made = new HubMetrics(() => snapshotOf(RED));
  runtimes.set(key, made);
  const serve = (_req: Request, res: Response) => {
    made.scrape().then(
      ({ contentType, text }) => {
        res.set('Content-Type', contentType);
        res.set('Cache-Control', 'no-store');
        res.send(text);
      },
      (err: unknown) => res.status(500).type('text/plain').send(err instanceof Error ? err.message : String(err)),
    );
  };
  if (RED.httpAdmin) RED.httpAdmin.get(METRICS_ROUTE, RED.auth.needsPermission('dingtalk.read'), serve);
  const settings = RED.settings as unknown as MetricsSettings;
  const path = settings.dingtalkMetrics?.path;
  // httpNodeAuth guards the whole httpNode app; httpNodeMiddleware is per route (as core `http in` does).
  if (typeof path === 'string' && path.startsWith('/') && RED.httpNode) RED.httpNode.get(path, ...(middlewareList(settings.httpNodeMiddleware) as unknown as RequestHandler[]), serve);
  else if (path !== undefined) RED.log.warn(RED._('dingtalk-app.metrics.bad-path', { path: String(path) }));
  return made;
}
