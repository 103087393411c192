/**
 * How many things happened per minute lately (a dispatch node's deliveries, for the event center): counts
 * in ten-second buckets over the last five minutes, so the rate follows a change within seconds and
 * costs a few numbers, not a timestamp per event.
 */
const BUCKET_MS = 10_000;
const BUCKETS = 30; // five minutes

export class MinuteRate {
  private readonly counts = new Array<number>(BUCKETS).fill(0);
  /** The bucket number (time / BUCKET_MS) each slot last counted for. */
  private readonly slots = new Array<number>(BUCKETS).fill(-1);

  constructor(private readonly now: () => number = Date.now) {}

  record(n = 1): void {
    const bucket = Math.floor(this.now() / BUCKET_MS);
    const slot = bucket % BUCKETS;
    if (this.slots[slot] !== bucket) {
      this.slots[slot] = bucket;
      this.counts[slot] = 0;
    }
    this.counts[slot] += n;
  }

  /** The average per minute over the last five minutes (the current bucket included). */
  perMinute(): number {
    const current = Math.floor(this.now() / BUCKET_MS);
    let total = 0;
    for (let i = 0; i < BUCKETS; i += 1) if (this.slots[i] > current - BUCKETS) total += this.counts[i];
    return total / ((BUCKETS * BUCKET_MS) / 60_000);
  }
}
