/**
 * Freshness of an HTTP push by its signed `timestamp` query parameter (protocol §2, §9.5).
 *
 * The signature covers the timestamp, so a captured push replayed later still verifies; the inbox
 * refuses it only while it still remembers the event id (dingtalkEventInDedupSeconds). A push is
 * therefore accepted only while it is young enough that its id, if it was received before, is still
 * remembered: with `maxAheadMs` allowed for clocks, maxAgeMs + maxAheadMs must not exceed the window.
 * DingTalk retries a failed push within about a minute, so a real push is always far inside it.
 */

/** Clocks may disagree by this much (capped at half the window, so a short test window still works). */
export const MAX_AHEAD_MS = 10 * 60_000;

export interface Freshness {
  /** Oldest accepted push, by its signed timestamp. */
  maxAgeMs: number;
  /** Furthest accepted push dated ahead of this server's clock. */
  maxAheadMs: number;
}

/** The default window for a de-duplication window: no replay of a remembered-then-forgotten id can pass. */
export function freshnessFor(dedupMs: number, maxAgeMs?: number): Freshness {
  const maxAheadMs = Math.min(MAX_AHEAD_MS, dedupMs / 2);
  return { maxAgeMs: maxAgeMs ?? dedupMs - maxAheadMs, maxAheadMs };
}

/**
 * The push's time in epoch ms. DingTalk sends 13-digit milliseconds; 10-digit seconds appear in
 * older documentation, so a value below 10^11 is read as seconds. Anything else is unreadable.
 */
export function pushTimeMs(timestamp: string): number | undefined {
  if (!/^\d{1,16}$/.test(timestamp)) return undefined;
  const n = Number(timestamp);
  return n < 1e11 ? n * 1000 : n;
}

export type AgeVerdict =
  | { ok: true }
  | { ok: false; problem: 'unreadable' }
  | { ok: false; problem: 'too-old' | 'ahead'; ageMs: number };

/** Whether a push signed with `timestamp` may be accepted at `now`. */
export function checkPushAge(timestamp: string, now: number, window: Freshness): AgeVerdict {
  const at = pushTimeMs(timestamp);
  if (at === undefined) return { ok: false, problem: 'unreadable' };
  const ageMs = now - at;
  if (ageMs > window.maxAgeMs) return { ok: false, problem: 'too-old', ageMs };
  if (-ageMs > window.maxAheadMs) return { ok: false, problem: 'ahead', ageMs };
  return { ok: true };
}
