/**
 * A subscriber's event-type filter, as written in the editor: exact types and prefix wildcards,
 * separated by commas or spaces ("bpms_*, user_add_org"). Empty accepts every event.
 */
export function typeFilter(text: string): (eventType: string) => boolean {
  const items = text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);
  if (items.length === 0 || items.includes('*')) return () => true;
  const exact = new Set(items.filter((i) => !i.endsWith('*')));
  const prefixes = items.filter((i) => i.endsWith('*')).map((i) => i.slice(0, -1));
  return (eventType) => exact.has(eventType) || prefixes.some((p) => eventType.startsWith(p));
}
