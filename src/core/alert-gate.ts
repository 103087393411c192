/**
 * Rate limit for alerts (errors a catch node receives): per key (an error code, a subscriber), the first
 * occurrence after a quiet period is raised at once; later ones within `windowMs` of the last raise are
 * counted and raised together, once, when the window ends (with the latest detail and how many there
 * were). So a burst of thousands of rejected pushes makes two alerts a minute at most, and none is lost.
 */
export type RaiseAlert<T> = (key: string, latest: T, count: number) => void;

interface KeyState<T> {
  lastRaised: number;
  held: number;
  latest?: T;
  timer?: NodeJS.Timeout;
}

export const ALERT_WINDOW_MS = 60_000;

export class AlertGate<T> {
  private readonly keys = new Map<string, KeyState<T>>();
  private closed = false;

  constructor(
    private readonly raise: RaiseAlert<T>,
    private readonly windowMs = ALERT_WINDOW_MS,
    private readonly now: () => number = Date.now,
  ) {}

  offer(key: string, detail: T): void {
    if (this.closed) return;
    const state = this.keys.get(key);
    const now = this.now();
    if (!state || (state.held === 0 && now - state.lastRaised >= this.windowMs)) {
      this.keys.set(key, { lastRaised: now, held: 0 });
      this.fire(key, detail, 1);
      return;
    }
    state.held += 1;
    state.latest = detail;
    if (!state.timer) {
      state.timer = setTimeout(() => this.release(key), Math.max(0, state.lastRaised + this.windowMs - now));
      state.timer.unref?.();
    }
  }

  /** The window ended: what was held back is raised as one alert. */
  private release(key: string): void {
    const state = this.keys.get(key);
    if (!state || this.closed) return;
    state.timer = undefined;
    const { held, latest } = state;
    state.held = 0;
    state.latest = undefined;
    state.lastRaised = this.now();
    if (held > 0) this.fire(key, latest as T, held);
  }

  private fire(key: string, detail: T, count: number): void {
    try {
      this.raise(key, detail, count);
    } catch {
      // an alert that cannot be raised must not break the caller's path (a receiver answering DingTalk)
    }
  }

  /** Drops what is held back (the node closes). */
  close(): void {
    this.closed = true;
    for (const state of this.keys.values()) if (state.timer) clearTimeout(state.timer);
    this.keys.clear();
  }
}
