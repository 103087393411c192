/**
 * Bounded de-duplication window: remembers event ids for `windowMs`, at most `maxEntries` of them
 * (oldest forgotten first), so DingTalk's retries (~10 s and ~40 s after a slow reply, protocol
 * §9.2) are recognised without memory growing with traffic.
 */
export interface DedupOptions {
  windowMs: number;
  maxEntries: number;
  now?: () => number;
}

export class DedupWindow {
  private readonly seen = new Map<string, number>(); // id -> expiry; Map keeps insertion order
  private readonly windowMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: DedupOptions) {
    if (!(options.windowMs > 0) || !(options.maxEntries >= 1)) {
      throw new RangeError('windowMs and maxEntries must be positive');
    }
    this.windowMs = options.windowMs;
    this.maxEntries = Math.floor(options.maxEntries);
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.seen.size;
  }

  /** True when `id` was recorded within the window. */
  has(id: string): boolean {
    const expiry = this.seen.get(id);
    if (expiry === undefined) return false;
    if (expiry > this.now()) return true;
    this.seen.delete(id);
    return false;
  }

  /**
   * Records `id` unless it is already in the window. Returns true when it was new (the caller
   * should process it), false for a duplicate.
   */
  add(id: string): boolean {
    if (this.has(id)) return false;
    const now = this.now();
    this.evict(now);
    this.seen.set(id, now + this.windowMs);
    return true;
  }

  /** Forgets `id`, so a failed attempt to process it does not mark it as seen. */
  delete(id: string): void {
    this.seen.delete(id);
  }

  clear(): void {
    this.seen.clear();
  }

  private evict(now: number): void {
    // Entries are in insertion order and share one window length, so expired ones are at the front.
    for (const [id, expiry] of this.seen) {
      if (expiry > now && this.seen.size < this.maxEntries) break;
      this.seen.delete(id);
    }
  }
}
