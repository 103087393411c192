/**
 * Values that come from a push (event ids and types, receive ids, paths, error texts of subscribers)
 * end up in log lines. Written raw, a newline in an eventId starts a forged log line, and bidi or
 * invisible characters hide what a line really says. Everything from outside goes through here.
 */

/** Characters that would break a log line or hide its real content (controls, line/paragraph separators, bidi overrides). */
const UNSAFE = /[\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

function escaped(head: string): string {
  return JSON.stringify(head).replace(UNSAFE, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** At most `max` code points of `text` (never half a surrogate pair), and whether it was cut. */
function bounded(text: string, max: number): { head: string; cut: boolean } {
  const head = Array.from(text.slice(0, max * 2)).slice(0, max).join('');
  return { head, cut: head.length < text.length };
}

/**
 * A value safe inside one log line, without quotes: JSON escapes (\n, \r, \u0000, \" …) plus the
 * invisible and line-breaking characters JSON leaves alone, at most `max` code points, "…" if cut.
 * Used where the message already frames the value (Event <id> is a dead letter…).
 */
export function escapeForLog(value: unknown, max = 200): string {
  const { head, cut } = bounded(String(value ?? ''), max);
  return escaped(head).slice(1, -1) + (cut ? '…' : '');
}

/** The same, quoted: for values whose start and end must be visible (the start of a poison plaintext). */
export function forLog(text: string, max = 80): string {
  const { head, cut } = bounded(text, max);
  return escaped(head) + (cut ? '…' : '');
}
