/**
 * How many bytes a parsed JSON value takes as JSON text, counted only until a limit is passed.
 *
 * A body parser in front of the receiver (Node-RED's admin app with httpAdminRoot "/") inflates a
 * gzip body before we see it, so the request's Content-Length says nothing about the parsed size: a
 * 5 KB request can carry a 5 MB object. JSON.stringify would build the whole text to measure it;
 * this walk stops as soon as the limit is passed and needs no recursion (a parser allows deep nesting).
 */

/**
 * The length of `JSON.stringify(value)` in UTF-8 bytes, except that escapes count as the character
 * they stand for; once the count passes `limit` the walk stops and returns what it has (> limit).
 */
export function jsonSizeOver(value: unknown, limit: number): number {
  let size = 0;
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === 'string') {
      size += Buffer.byteLength(v, 'utf8') + 2;
    } else if (v === null || typeof v !== 'object') {
      size += String(v).length;
    } else if (Array.isArray(v)) {
      // Brackets and commas first: a long array passes the limit before its items are queued.
      size += 2 + Math.max(0, v.length - 1);
      if (size > limit) return size;
      for (const item of v) pending.push(item);
    } else {
      const keys = Object.keys(v);
      size += 2 + Math.max(0, keys.length - 1);
      if (size > limit) return size;
      for (const key of keys) {
        size += Buffer.byteLength(key, 'utf8') + 3; // quotes and colon
        pending.push((v as Record<string, unknown>)[key]);
      }
    }
    if (size > limit) return size;
  }
  return size;
}
