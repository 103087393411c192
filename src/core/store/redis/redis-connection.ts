/**
 * The Redis back end's connection: one node-redis client (a single server, Sentinel or Cluster), kept
 * connected in the background, and the rules every call follows:
 *   - while the server cannot be reached a call fails at once (no offline queue: nothing piles up in
 *     memory while Redis is down) with StoreUnavailableError, and so does a call the server does not
 *     answer within `commandTimeoutMs` (a cut network looks like a server that never answers);
 *   - on each (re)connect the server's settings are checked (server-check.ts): one that may evict keys
 *     refuses every call with StoreRefusedError until it is fixed (checked again every few seconds);
 *   - what happens is reported once per change of state ('redis-up' / 'redis-down' / 'redis-refused').
 * Scripts run with EVALSHA, loaded again (EVAL) when the server does not know them (after a restart).
 */
import { createHash } from 'node:crypto';
import { createClient, createCluster, createSentinel } from 'redis';
import type { RedisServerInfo, RedisStoreConfig, RedisStoreEvent } from './redis-config';
import { StoreRefusedError, StoreUnavailableError } from './redis-config';
import { scriptSource, type ScriptName } from './scripts';
import { checkServer, readServerInfo, type ServerVerdict } from './server-check';

type Reply = unknown;

/** What this back end needs of a node-redis client, whichever kind it is. */
interface Sender {
  send(args: string[], key?: string): Promise<Reply>;
  connect(): Promise<unknown>;
  close(): Promise<void>;
  ready(): boolean;
  on(event: 'ready' | 'error' | 'end' | 'reconnecting', listener: (arg?: unknown) => void): void;
}

const DEFAULT_URL = 'redis://127.0.0.1:6379';
const RECHECK_MS = 5000;

/** A printable target: host, port and prefix, never a password. */
export function describeTarget(config: RedisStoreConfig, prefix: string): string {
  if (config.cluster) return `redis cluster ${config.cluster.nodes.map(maskUrl).join(',')} ${prefix}`;
  if (config.sentinel) return `redis sentinel ${config.sentinel.name}@${config.sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(',')} ${prefix}`;
  return `${maskUrl(config.url ?? DEFAULT_URL)} ${prefix}`;
}

export function maskUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_m, auth: string) => (auth.includes(':') ? `//${auth.split(':')[0]}:***@` : '//***@'));
}

function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** retries, 2000);
}

function makeSender(config: RedisStoreConfig): Sender {
  const socket = {
    connectTimeout: config.commandTimeoutMs ?? 5000,
    reconnectStrategy: reconnectDelay,
    ...(config.tls ? { tls: true as const, ...(typeof config.tls === 'object' ? config.tls : {}) } : {}),
  };
  const auth = {
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
  };
  if (config.cluster) {
    const cluster = createCluster({
      rootNodes: config.cluster.nodes.map((url) => ({ url })),
      defaults: { socket, disableOfflineQueue: true, ...auth },
    });
    return {
      send: (args, key) => cluster.sendCommand(key, false, args),
      connect: () => cluster.connect(),
      close: () => cluster.close(),
      ready: () => cluster.isReady,
      on: (event, listener) => void cluster.on(event as 'error', listener),
    };
  }
  if (config.sentinel) {
    const sentinel = createSentinel({
      name: config.sentinel.name,
      sentinelRootNodes: config.sentinel.sentinels,
      nodeClientOptions: { socket, disableOfflineQueue: true, ...auth },
    });
    return {
      send: (args) => sentinel.sendCommand(false, args),
      connect: () => sentinel.connect(),
      close: () => sentinel.close(),
      ready: () => sentinel.isReady,
      on: (event, listener) => void sentinel.on(event as 'error', listener),
    };
  }
  const client = createClient({ url: config.url ?? DEFAULT_URL, socket, disableOfflineQueue: true, pingInterval: 5000, ...auth });
  return {
    send: (args) => client.sendCommand(args),
    connect: () => client.connect(),
    close: () => client.close(),
    ready: () => client.isReady,
    on: (event, listener) => void client.on(event, listener),
  };
}

type State = 'connecting' | 'up' | 'down' | 'refused' | 'closed';

export class RedisConnection {
  readonly prefix: string;
  readonly target: string;
  private readonly sender: Sender;
  /** Each script's source and its SHA-1, made once (every push runs one). */
  private readonly scripts = new Map<ScriptName, { source: string; sha: string }>();
  private state: State = 'connecting';
  private verdict: ServerVerdict | undefined;
  private recheckTimer: NodeJS.Timeout | undefined;
  private lastError = '';
  private readonly commandTimeoutMs: number;

  constructor(
    readonly config: RedisStoreConfig,
    private readonly onEvent: (event: RedisStoreEvent) => void,
  ) {
    this.prefix = `{${config.prefix ?? 'dthub'}}:`;
    this.target = describeTarget(config, this.prefix);
    this.commandTimeoutMs = config.commandTimeoutMs ?? 5000;
    this.sender = makeSender(config);
    this.sender.on('error', (err) => this.down(err));
    this.sender.on('end', () => this.down(new Error('connection closed')));
    this.sender.on('reconnecting', () => this.down(new Error(this.lastError || 'reconnecting')));
    this.sender.on('ready', () => void this.check());
    // The first connect, and every reconnect after it, run in the background; failures arrive as 'error'.
    // A cluster says nothing like 'ready': its first connect ends with the promise.
    this.sender.connect().then(
      () => void this.check(),
      (err: unknown) => this.down(err),
    );
  }

  /** Up: connected and the server's settings allow acknowledging. */
  get usable(): boolean {
    return this.state === 'up';
  }

  get info(): RedisServerInfo | undefined {
    return this.verdict?.info;
  }

  /** Runs a script of scripts.ts with the hub's prefix as its key. */
  async script(name: ScriptName, args: readonly (string | number)[]): Promise<Reply> {
    const argv = args.map(String);
    let script = this.scripts.get(name);
    if (!script) {
      const source = scriptSource(name);
      script = { source, sha: createHash('sha1').update(source).digest('hex') };
      this.scripts.set(name, script);
    }
    const { source, sha } = script;
    try {
      return await this.command(['EVALSHA', sha, '1', this.prefix, ...argv]);
    } catch (err) {
      if (!/NOSCRIPT/.test(String((err as Error)?.message))) throw err;
      return this.command(['EVAL', source, '1', this.prefix, ...argv]);
    }
  }

  /** Any command, under the rules above. */
  command(args: string[], options: { timeoutMs?: number; evenIfRefused?: boolean; waited?: boolean } = {}): Promise<Reply> {
    if (this.state === 'connecting' && !options.evenIfRefused && !options.waited) {
      // Opened a moment ago (a deploy reopens the store): the first connect and check are under way.
      // Calls wait for their end, bounded by the command timeout, then go by the usual rules.
      return this.firstSettled(options.timeoutMs ?? this.commandTimeoutMs).then(() => this.command(args, { ...options, waited: true }));
    }
    if (this.state === 'closed') return Promise.reject(new Error('the store is closed'));
    if (this.state === 'refused' && !options.evenIfRefused) return Promise.reject(new StoreRefusedError(this.verdict?.problem ?? 'refused'));
    if (!this.sender.ready()) return Promise.reject(new StoreUnavailableError(`Redis (${this.target}) is not reachable${this.lastError ? `: ${this.lastError}` : ''}`));
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new StoreUnavailableError(`Redis (${this.target}) did not answer within ${timeoutMs} ms`)), timeoutMs);
      this.sender.send(args, this.prefix).then(
        (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(isConnectionError(err) ? new StoreUnavailableError(`Redis (${this.target}): ${(err as Error).message}`) : err);
        },
      );
    });
  }

  private settledWaiters: (() => void)[] = [];

  /** Resolves when the first connect has ended (up, refused or down), or after `ms`. */
  private firstSettled(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      this.settledWaiters.push(done);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  /** Leaves 'connecting' (whatever the outcome): calls that waited for it go on. */
  private settle(state: State): void {
    this.state = state;
    for (const done of this.settledWaiters.splice(0)) done();
  }

  /** Checks the server's settings (on each connect, and while refused every few seconds). */
  private async check(): Promise<void> {
    if (this.state === 'closed') return;
    let verdict: ServerVerdict;
    try {
      verdict = checkServer(await readServerInfo((args) => this.command(args, { evenIfRefused: true })), this.config.durability ?? 'server');
    } catch (err) {
      this.down(err);
      return;
    }
    if (this.isClosed()) return; // closed while the server answered
    const was = this.state;
    const problemBefore = this.verdict?.problem;
    this.verdict = verdict;
    this.lastError = '';
    if (verdict.problem) {
      this.settle('refused');
      if (was !== 'refused' || problemBefore !== verdict.problem) {
        this.emit({ kind: 'redis-refused', target: this.target, reason: verdict.reason ?? 'eviction', detail: verdict.problem, message: verdict.problem });
      }
      this.scheduleRecheck();
      return;
    }
    this.settle('up');
    if (was !== 'up') this.emit({ kind: 'redis-up', target: this.target, info: verdict.info, message: `connected to ${this.target}` });
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private scheduleRecheck(): void {
    if (this.recheckTimer) return;
    this.recheckTimer = setTimeout(() => {
      this.recheckTimer = undefined;
      if (this.state === 'refused' && this.sender.ready()) void this.check();
    }, RECHECK_MS);
    this.recheckTimer.unref?.();
  }

  private down(err: unknown): void {
    if (this.state === 'closed') return;
    const text = err instanceof Error ? err.message : String(err);
    if (text) this.lastError = text;
    if (this.state === 'down') return;
    if (this.state === 'connecting' || this.state === 'up' || this.state === 'refused') {
      this.settle('down');
      this.emit({ kind: 'redis-down', target: this.target, error: this.lastError, message: `Redis (${this.target}) is not reachable: ${this.lastError}` });
    }
  }

  private emit(event: RedisStoreEvent): void {
    try {
      this.onEvent(event);
    } catch {
      // a listener's failure is not the connection's
    }
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.settle('closed');
    if (this.recheckTimer) clearTimeout(this.recheckTimer);
    await this.sender.close().catch(() => undefined);
  }
}

/** Errors of the connection (not of a command's own): the server is unreachable, not the call wrong. */
function isConnectionError(err: unknown): boolean {
  const name = (err as Error)?.name ?? '';
  const text = String((err as Error)?.message ?? '');
  return /SocketClosed|ClientClosed|ClientOffline|Connection|Timeout|Abort/i.test(name) || /ECONNREFUSED|ECONNRESET|EPIPE|closed|offline/i.test(text);
}
