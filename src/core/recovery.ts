/**
 * Recovery of missed pushes (protocol §9.3): pages through DingTalk's failed-events list, turns each
 * entry into the console event shape, and passes it through the same durable intake as live pushes,
 * so an event that also arrived live is recognised (same content key) and not emitted twice. Each
 * page is stored before the next is requested, because requesting it makes DingTalk delete this one.
 */
import { contentKeyOf, describeEvent, type FailedEntry, isFailedEntry, payloadFromFailedEntry } from './events';
import type { OpenApiClient } from './openapi/client';
import { readFailedEvents } from './openapi/callbacks';
import type { EventIntake, ReceivedEvent } from './receiver';

export async function recoverMissedEvents(
  client: OpenApiClient,
  intake: EventIntake,
  emit: (message: ReceivedEvent) => void,
): Promise<{ pages: number; recovered: number; known: number }> {
  let recovered = 0;
  let known = 0;
  const pages = await readFailedEvents(client, async (entries) => {
    const messages = entries.filter(isFailedEntry).map((entry: FailedEntry) => {
      const payload = payloadFromFailedEntry(entry);
      const key = contentKeyOf(payload);
      const dingtalk = describeEvent(entry, 'recovery');
      if (key !== undefined) dingtalk.eventId = key;
      return { key, message: { topic: dingtalk.eventType, payload, dingtalk } as ReceivedEvent };
    });
    // One group commit for the page; only once it is on disk does readFailedEvents ask for more.
    const verdicts = await Promise.all(messages.map(({ key, message }) => intake(message.dingtalk.eventId, message, key)));
    messages.forEach(({ message }, i) => {
      if (verdicts[i] === 'new') {
        recovered += 1;
        emit(message);
      } else known += 1;
    });
  });
  return { pages, recovered, known };
}
