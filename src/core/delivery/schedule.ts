/**
 * Retry schedules: when each attempt of a delivery is made, as delays after the previous failure.
 * Written like "0, 5s, 5m, 30m, 2h" in the editor; the default is the Standard Webhooks ladder.
 */
export const STANDARD_WEBHOOKS_SCHEDULE = '0, 5s, 5m, 30m, 2h, 5h, 10h, 14h, 20h, 24h';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses a schedule into delays in ms (the first is the delay of the first attempt, normally 0). */
export function parseSchedule(text: string): number[] {
  const parts = text.split(/[,\s]+/).map((p) => p.trim()).filter(Boolean);
  if (parts.length === 0) throw new Error('the retry schedule is empty');
  return parts.map((part) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|min|m|h|d)?$/.exec(part);
    if (!m) throw new Error(`"${part}" is not a delay like 5s, 5m, 2h or 0`);
    return Math.round(Number(m[1]) * UNITS[m[2] ?? 's']);
  });
}

/**
 * Delay before attempt number `attempt` (0-based) once `attempt` attempts have failed, with ± `jitter`
 * spread so many deliveries failing together do not retry together; undefined when none is left.
 */
export function retryDelay(schedule: readonly number[], attempt: number, jitter = 0, random = Math.random): number | undefined {
  if (attempt >= schedule.length) return undefined;
  const base = schedule[attempt];
  return Math.max(0, Math.round(base * (1 + jitter * (2 * random() - 1))));
}

/** Retry-After in ms: delta seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
