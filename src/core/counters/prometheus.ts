/**
 * The hub's Prometheus metrics (prom-client), in a registry of their own (never prom-client's global
 * one, which other packages in the same Node-RED may fill). The counters are the persisted counts
 * (counter-names.ts), so they survive deploys and restarts; queue depth and age are asked of the store
 * at scrape time; only the delivery duration histogram lives in memory. One scrape makes one snapshot:
 * every metric's collect() reads it, so the store is read once per scrape, not once per metric.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HubCounts } from './counter-names';

export interface QueueSnapshot {
  subscriber: string;
  depth: number;
  /** Age of the oldest queued delivery, seconds; 0 when nothing is queued. */
  oldestSeconds: number;
}

export interface MetricsSnapshot {
  /** The store answered this scrape. */
  up: boolean;
  counts: HubCounts;
  queues: QueueSnapshot[];
}

export const DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class HubMetrics {
  readonly registry = new Registry();
  private current: MetricsSnapshot = { up: false, counts: { receivers: {}, subscribers: {} }, queues: [] };
  private readonly duration: Histogram<'subscriber' | 'outcome'>;

  constructor(private readonly snapshot: () => Promise<MetricsSnapshot>) {
    const registers = [this.registry];
    const metrics = this;
    new Counter({
      name: 'dingtalk_hub_events_received_total',
      help: 'Events received and stored (new, not duplicates), by receiving app (AppKey) and source (http, stream, recovery, test).',
      labelNames: ['app', 'source'],
      registers,
      collect() {
        this.reset();
        for (const r of Object.values(metrics.current.counts.receivers)) {
          for (const [app, sources] of Object.entries(r.apps)) for (const [source, n] of Object.entries(sources)) this.inc({ app, source }, n);
        }
      },
    });
    new Counter({
      name: 'dingtalk_hub_duplicates_total',
      help: 'Events received again (already stored): acknowledged, not emitted.',
      registers,
      collect() {
        this.reset();
        this.inc(Object.values(metrics.current.counts.receivers).reduce((sum, r) => sum + r.duplicates, 0));
      },
    });
    new Counter({
      name: 'dingtalk_hub_pushes_rejected_total',
      help: 'Pushes rejected by a receiver, by error code (bad-signature, store-unavailable, ...).',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const r of Object.values(metrics.current.counts.receivers)) for (const [code, n] of Object.entries(r.codes)) this.inc({ code }, n);
      },
    });
    new Counter({
      name: 'dingtalk_hub_deliveries_total',
      help: 'Delivery attempts by subscriber (dispatch node id) and outcome: delivered, failed (retried later), dead (dead-lettered).',
      labelNames: ['subscriber', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const [subscriber, c] of Object.entries(metrics.current.counts.subscribers)) {
          for (const [outcome, n] of Object.entries(c)) this.inc({ subscriber, outcome }, n);
        }
      },
    });
    this.duration = new Histogram({
      name: 'dingtalk_hub_delivery_duration_seconds',
      help: 'Duration of delivery attempts (since this Node-RED started), by subscriber and outcome.',
      labelNames: ['subscriber', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'dingtalk_hub_queue_depth',
      help: 'Deliveries queued (waiting or being retried), by subscriber.',
      labelNames: ['subscriber'],
      registers,
      collect() {
        this.reset();
        for (const q of metrics.current.queues) this.set({ subscriber: q.subscriber }, q.depth);
      },
    });
    new Gauge({
      name: 'dingtalk_hub_oldest_queued_seconds',
      help: 'How long the oldest queued delivery has waited, by subscriber (0 when nothing is queued).',
      labelNames: ['subscriber'],
      registers,
      collect() {
        this.reset();
        for (const q of metrics.current.queues) this.set({ subscriber: q.subscriber }, q.oldestSeconds);
      },
    });
    new Gauge({
      name: 'dingtalk_hub_store_up',
      help: 'Whether the event store (SQLite file or Redis) answered this scrape (1) or not (0).',
      registers,
      collect() {
        this.set(metrics.current.up ? 1 : 0);
      },
    });
  }

  /** One delivery attempt took `seconds`. */
  observeDelivery(subscriber: string, outcome: string, seconds: number): void {
    this.duration.observe({ subscriber, outcome }, seconds);
  }

  /** The exposition text for a scrape, and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    this.current = await this.snapshot();
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
