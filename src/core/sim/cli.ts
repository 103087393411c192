/**
 * `dingtalk-sim`: a developer's stand-in for DingTalk's push servers. Parses the command line with
 * node:util parseArgs (no dependency), builds events from sample-events or a file, pushes them with
 * sendPush one after another and reports each. Secrets come from flags or the environment and are
 * never printed.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CipherError } from '../cipher';
import { catalogueEntry, eventIdOf, eventTypeOf, URL_CHECK_EVENTS } from '../events';
import { sampleEvent, sampleEventTypes } from '../sample-events';
import { HELP } from './help';
import { nearest } from './nearest';
import { cipherFor, NO_RECEIVER, type PushOptions, type PushResult, sendPush, type SignatureParam } from './push-client';

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
  env: Record<string, string | undefined>;
}

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

const CONNECTION: Options = {
  url: { type: 'string' },
  token: { type: 'string' },
  'aes-key': { type: 'string' },
  'receive-id': { type: 'string' },
  'signature-param': { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const OPTIONS: Record<string, Options> = {
  send: { ...CONNECTION, type: { type: 'string', multiple: true }, file: { type: 'string' }, 'corp-id': { type: 'string' }, count: { type: 'string' } },
  'check-url': CONNECTION,
  types: { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
};

type Values = Record<string, string | boolean | string[] | undefined>;

/** One event to push: its type, and its payload for a given event time (a fresh sample, or the file as it is). */
interface Planned {
  type: string;
  build: (now: number) => Record<string, unknown>;
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.err : io.out)(HELP.main);
    return command === undefined ? EXIT_USAGE : EXIT_OK;
  }
  if (!Object.hasOwn(OPTIONS, command)) return usage(io, `unknown command "${command}"`, 'main');
  let values: Values;
  try {
    values = parseArgs({ args: rest, options: OPTIONS[command], strict: true, allowPositionals: false }).values as Values;
  } catch (err) {
    return usage(io, (err as Error).message, command);
  }
  if (values.help) {
    io.out(HELP[command]);
    return EXIT_OK;
  }
  try {
    if (command === 'types') return listTypes(io, values.json === true);
    const target = connect(values, io.env);
    const planned = command === 'send' ? planSend(values) : [{ type: 'check_url', build: () => ({ EventType: 'check_url' }) }];
    return await push(target, planned, count(values.count), values, io);
  } catch (err) {
    if (err instanceof UsageError) return usage(io, err.message, command);
    throw err;
  }
}

function usage(io: Io, problem: string, command: string): number {
  io.err(`dingtalk-sim${command === 'main' ? '' : ' ' + command}: ${problem}`);
  io.err(`Run "dingtalk-sim ${command === 'main' ? '' : command + ' '}--help" for usage.`);
  return EXIT_USAGE;
}

function listTypes(io: Io, json: boolean): number {
  const rows = sampleEventTypes().map((type) => catalogueEntry(type)!);
  if (json) io.out(JSON.stringify(rows.map(({ type, group, label }) => ({ type, group, label }))));
  else for (const r of rows) io.out(`${r.type.padEnd(34)} ${r.group.padEnd(13)} ${r.label['en-US']} / ${r.label['zh-CN']}`);
  return EXIT_OK;
}

/** Everything a push needs but the event; the cipher is built (and the secrets checked) once. */
type Target = Omit<PushOptions, 'plaintext'>;

function connect(values: Values, env: Io['env']): Target {
  const need = (flag: string, envName?: string): string => {
    const value = (values[flag] as string | undefined) ?? (envName ? env[envName] : undefined);
    if (!value) throw new UsageError(`--${flag} is required${envName ? ` (or set ${envName})` : ''}`);
    return value;
  };
  const url = need('url');
  if (!isHttpUrl(url)) throw new UsageError('--url must be an http:// or https:// URL');
  const signatureParam = (values['signature-param'] as string | undefined) ?? 'msg_signature';
  if (signatureParam !== 'msg_signature' && signatureParam !== 'signature') {
    throw new UsageError('--signature-param must be msg_signature or signature');
  }
  const timeoutMs = values.timeout === undefined ? undefined : positiveInteger('timeout', values.timeout as string);
  const receiveId = need('receive-id', 'DINGTALK_APP_KEY');
  const [token, aesKey] = [need('token', 'DINGTALK_TOKEN'), need('aes-key', 'DINGTALK_AES_KEY')];
  try {
    return { url, cipher: cipherFor({ token, aesKey, receiveId }), receiveId, signatureParam, timeoutMs };
  } catch (err) {
    // Cipher messages describe the problem (length, characters), never the secret itself.
    if (err instanceof CipherError) throw new UsageError(err.message);
    throw err;
  }
}

function isHttpUrl(text: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

function planSend(values: Values): Planned[] {
  const types = ((values.type as string[] | undefined) ?? []).flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
  const file = values.file as string | undefined;
  if ((types.length > 0) === (file !== undefined)) throw new UsageError('give either --type or --file');
  if (file !== undefined) {
    if (values['corp-id'] !== undefined) throw new UsageError('--corp-id applies to --type samples only');
    const payload = readPayload(file);
    return [{ type: eventTypeOf(payload) || '(no EventType)', build: () => payload }];
  }
  const known = sampleEventTypes();
  const chosen = types.includes('all') ? known : types;
  const unknown = chosen.filter((t) => !known.includes(t));
  if (unknown.length > 0) {
    const named = unknown.map((t) => {
      const guess = nearest(t, known);
      return guess === undefined ? `"${t}"` : `"${t}" (did you mean "${guess}"?)`;
    });
    throw new UsageError(`unknown event type ${named.join(', ')}; run "dingtalk-sim types" to list them`);
  }
  const corpId = values['corp-id'] as string | undefined;
  return chosen.map((type) => ({ type, build: (now) => sampleEvent(type, { corpId, now }) }));
}

function readPayload(file: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read --file ${file}: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`--file ${file} must hold one JSON object`);
  return value as Record<string, unknown>;
}

function count(value: unknown): number {
  return value === undefined ? 1 : positiveInteger('count', value as string);
}

function positiveInteger(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer`);
  return n;
}

async function push(target: Target, planned: Planned[], times: number, values: Values, io: Io): Promise<number> {
  // Strictly increasing event times: two samples of one type in the same millisecond would otherwise
  // share their content key and the receiver would rightly take the second for a duplicate.
  let last = 0;
  const tick = (): number => (last = Math.max(Date.now(), last + 1));
  let verified = 0;
  let total = 0;
  for (const item of planned) {
    for (let i = 0; i < times; i++) {
      const payload = item.build(tick());
      const plaintext = JSON.stringify(payload);
      const result = await sendPush({ ...target, plaintext }).catch(noAnswer);
      // Only DingTalk's own ids: the hub derives the id of an event without one from the app as well.
      const eventId = URL_CHECK_EVENTS.has(item.type) || !hasOwnId(payload) ? undefined : eventIdOf(payload, plaintext);
      total++;
      if (result.noReceiver) {
        // Every other push would go to the same wrong path: one line, and stop.
        if (values.json === true) report(io, true, item.type, eventId, result);
        else io.out(`${NO_RECEIVER}: ${target.url} (check --url: the path of a deployed dingtalk-event-in node)`);
        return EXIT_FAILED;
      }
      report(io, values.json === true, item.type, eventId, result);
      if (result.verified) verified++;
    }
  }
  if (values.json !== true) io.out(`${verified} of ${total} ${total === 1 ? 'reply' : 'replies'} verified`);
  return verified === total ? EXIT_OK : EXIT_FAILED;
}

const hasOwnId = (payload: Record<string, unknown>): boolean => typeof (payload.eventId ?? payload.EventId) === 'string';

/** A push that got no HTTP answer, reported like one that failed verification. */
const noAnswer = (err: Error & { code?: string }): PushResult => ({ status: 0, ms: 0, body: '', verified: false, problem: `no answer: ${err.code ?? err.message}` });

function report(io: Io, json: boolean, type: string, eventId: string | undefined, r: PushResult): void {
  if (json) {
    io.out(JSON.stringify({ type, eventId, status: r.status, ms: r.ms, verified: r.verified, problem: r.problem }));
    return;
  }
  const id = eventId ? `  eventId=${eventId}` : '';
  const answer = r.status === 0 ? '' : `  HTTP ${r.status}  ${r.ms} ms`;
  io.out(`${type}${id}${answer}  ${r.verified ? 'verified' : `NOT VERIFIED: ${r.problem}`}`);
}

function processIo(): Io {
  return { out: (line) => console.log(line), err: (line) => console.error(line), env: process.env };
}
