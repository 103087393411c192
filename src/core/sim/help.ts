/** The simulator's --help texts, one per command. */

const CONNECTION = `Connection:
  --url URL              the callback URL, e.g. http://127.0.0.1:1880/dingtalk/events
  --token T              the app's token            (or env DINGTALK_TOKEN)
  --aes-key K            the app's aesKey, 43 chars (or env DINGTALK_AES_KEY)
  --receive-id ID        the id the receiver expects: the app's AppKey / Client ID for
                         console HTTP push, the corpId for register_call_back, the
                         suiteKey for ISV apps          (or env DINGTALK_APP_KEY)
  --signature-param P    msg_signature (console HTTP push, default) or signature (legacy)
  --timeout MS           give up on a reply after MS milliseconds (default 10000)
  --json                 print one JSON object per push instead of text

Prefer the environment variables for the token and aesKey so they stay out of your
shell history. The simulator never prints them.`;

const EXIT = `Exit status: 0 when every reply was DingTalk's encrypted "success" for the same
receive id, 1 when a reply was an error status or did not verify, 2 for usage errors.`;

export const HELP: Record<string, string> = {
  main: `dingtalk-sim: push signed, encrypted DingTalk events to a callback receiver, the
way DingTalk does, and verify its replies.

Usage:
  dingtalk-sim send       push sample events (or a payload file)
  dingtalk-sim check-url  push DingTalk's check_url and verify the answer
  dingtalk-sim types      list the event types with a sample
  dingtalk-sim <command> --help

Example (against npm start, which prints these values):
  export DINGTALK_TOKEN=… DINGTALK_AES_KEY=…
  dingtalk-sim send --url http://127.0.0.1:1880/dingtalk/events \\
    --receive-id dingdemo… --type bpms_instance_change`,

  send: `Usage: dingtalk-sim send --url URL --receive-id ID (--type TYPE | --file FILE) [options]

Pushes each event and reports its type, event id, HTTP status, time and whether the
reply verified.

Events:
  --type TYPE            an event type (see dingtalk-sim types); repeat the option or
                         separate types with commas; "all" sends every type. Each push
                         is a fresh sample with its own event id.
  --file FILE            a decrypted payload (a JSON object) to send as it is
  --corp-id ID           the corp id the samples carry (with --type)
  --count N              send each event N times (default 1); samples are new events
                         each time, a --file payload is the same event again (a retry)

${CONNECTION}

${EXIT}`,

  'check-url': `Usage: dingtalk-sim check-url --url URL --receive-id ID [options]

Pushes {"EventType":"check_url"}, which DingTalk sends when the callback URL is saved,
and verifies the answer (DingTalk allows 1500 ms).

${CONNECTION}

${EXIT}`,

  types: `Usage: dingtalk-sim types [--json]

Lists the event types dingtalk-sim send --type can build, with their group and label.`,
};
