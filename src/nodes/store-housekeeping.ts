/**
 * The store housekeeper's configuration in a Node-RED runtime (core/store/housekeeper): its periods from
 * settings.js, the deployed nodes after each deploy (through the runtime's one flows:started listener),
 * and its reports in the runtime's log, in the runtime's language.
 */
import type { NodeAPI } from 'node-red';
import type { OrphanKind } from '../core/store/store-contract';
import type { HousekeeperConfig } from '../core/store/housekeeper';
import { deployedNodes } from './deployed-nodes';
import { flowsRunning, onFlowsStarted, onFlowsStopping } from './runtime-events';
import { appText } from './app-texts';

/** dingtalkEventInDedupSeconds: how long a received event id is remembered (handed-on inbox rows). */
export const DEFAULT_DEDUP_SECONDS = 7 * 24 * 3600;
/** dingtalkDispatchKeepDeliveredDays: how long delivered outbox rows are kept. */
export const DEFAULT_KEEP_DELIVERED_DAYS = 7;
/** dingtalkOrphanGraceHours: how long the rows of a node deleted from the flows wait for it to come back. */
export const DEFAULT_ORPHAN_GRACE_HOURS = 7 * 24;

interface HousekeepingSettings {
  dingtalkEventInDedupSeconds?: unknown;
  dingtalkDispatchKeepDeliveredDays?: unknown;
  dingtalkOrphanGraceHours?: unknown;
}

/** A number setting (or a numeric string) within [min, max]; the default when it is anything else. */
function setting(value: unknown, fallback: number, min: number, max: number): number {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : typeof value === 'number' ? value : NaN;
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : fallback;
}

/** The de-duplication window as dingtalk-event-in has always read it: a positive number of seconds. */
export function dedupSeconds(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : DEFAULT_DEDUP_SECONDS;
}

const TEXTS = appText('housekeeping');

export function housekeepingFor(RED: NodeAPI): HousekeeperConfig {
  const settings = () => RED.settings as unknown as HousekeepingSettings;
  const text = (key: string, kind: OrphanKind, params: Record<string, string | number>) => RED._(`${TEXTS}.${key}-${kind}`, params);
  const hours = () => setting(settings().dingtalkOrphanGraceHours, DEFAULT_ORPHAN_GRACE_HOURS, 0, 10 * 365 * 24);
  return {
    dedupMs: () => dedupSeconds(settings().dingtalkEventInDedupSeconds) * 1000,
    keepDeliveredMs: () => setting(settings().dingtalkDispatchKeepDeliveredDays, DEFAULT_KEEP_DELIVERED_DAYS, 0, 3650) * 86_400_000,
    orphanGraceMs: () => hours() * 3_600_000,
    watchDeploys(onDeploy) {
      const offStarted = onFlowsStarted(RED, () => onDeploy(deployedNodes(RED)));
      const offStopping = onFlowsStopping(RED, () => onDeploy(undefined));
      // A store opened once the flows run (a Stream app opens it when the tracker asks): judged at once.
      if (flowsRunning(RED)) onDeploy(deployedNodes(RED));
      return () => {
        offStarted();
        offStopping();
      };
    },
    report: {
      orphaned: (kind, id, rows, at) => RED.log.warn(text('orphaned', kind, { node: id, rows, hours: hours(), at: new Date(at).toISOString() })),
      returned: (kind, id) => RED.log.info(text('returned', kind, { node: id })),
      removed: (kind, id, rows) => RED.log.warn(text('removed', kind, { node: id, rows })),
      failed: (error) => RED.log.warn(RED._(`${TEXTS}.failed`, { message: error instanceof Error ? error.message : String(error) })),
    },
  };
}
