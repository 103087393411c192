/**
 * Lets the first `limit` log lines of each period through. A scanner hammering a public callback URL
 * must not flood the log or the debug sidebar, but the first rejections always show.
 */
export class LogThrottle {
  private windowStart = -Infinity;
  private count = 0;
  private suppressed = 0;

  constructor(
    private readonly limit: number,
    private readonly periodMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether this line may be logged loudly. When a new period starts after suppressed lines,
   * `suppressedBefore` says how many the previous period held back, so the caller can say so.
   */
  take(): { allowed: boolean; suppressedBefore: number } {
    const now = this.now();
    let suppressedBefore = 0;
    if (now - this.windowStart >= this.periodMs) {
      suppressedBefore = this.suppressed;
      this.windowStart = now;
      this.count = 0;
      this.suppressed = 0;
    }
    this.count += 1;
    if (this.count <= this.limit) return { allowed: true, suppressedBefore };
    this.suppressed += 1;
    return { allowed: false, suppressedBefore };
  }
}
