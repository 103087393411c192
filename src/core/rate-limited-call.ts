/**
 * Runs `fn` at most once per `intervalMs`, trailing: under load a burst of requests collapses into
 * one call at the end of the interval. Used for node status updates, which go to every open editor.
 */
export class RateLimitedCall {
  private timer: NodeJS.Timeout | undefined;
  private lastRun = 0;

  constructor(
    private readonly fn: () => void,
    private readonly intervalMs: number,
  ) {}

  /** Asks for a call; runs now if the last one is old enough, else once when the interval is up. */
  request(): void {
    if (this.timer) return;
    const wait = Math.max(0, this.lastRun + this.intervalMs - Date.now());
    this.timer = setTimeout(() => this.runNow(), wait);
  }

  /** Calls `fn` at once (and drops any pending trailing call). */
  runNow(): void {
    this.cancel();
    this.lastRun = Date.now();
    this.fn();
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
