/**
 * DingTalk Stream-mode client on `ws` (dingtalk-protocol.md §14), one per app, no shared state:
 *   POST {apiUrl}/v1.0/gateway/connections/open  -> {endpoint, ticket} (single use, fresh every time)
 *   WebSocket {endpoint}?ticket=...              -> SYSTEM / EVENT / CALLBACK frames, one ACK each
 * SYSTEM ping is answered with its own data; `disconnect` opens the replacement connection at once and
 * keeps reading the old one until the server closes it (make-before-break). Failures reconnect with
 * exponential back-off and jitter (1 s doubling, cap 60 s, reset after a stable connection), one
 * reconnect in flight at a time, cancellable by stop(). A connection that goes silent is replaced.
 * No attempt can hang: the ticket request, the WebSocket handshake and the whole attempt each have a
 * deadline, and an expired one is a failure like any other (back-off, then a fresh ticket).
 */
import WebSocket from 'ws';
import type { Clock } from '../delivery/worker';
import { systemClock } from '../delivery/worker';

export interface StreamFrame {
  specVersion?: string;
  type: 'SYSTEM' | 'EVENT' | 'CALLBACK' | string;
  headers: Record<string, string>;
  data: string;
}

export type AckStatus = 'SUCCESS' | 'LATER';

export type StreamState =
  | { state: 'connecting' }
  | { state: 'connected'; since: number }
  | { state: 'reconnecting'; inMs: number; error?: string; reason?: ReconnectReason }
  | { state: 'stopped' };

export interface StreamClientOptions {
  clientId: string;
  clientSecret: string;
  apiUrl?: string;
  /** Handles one EVENT frame; resolves SUCCESS once the event is safely stored, LATER otherwise. */
  onEvent: (frame: StreamFrame) => Promise<AckStatus>;
  onState?: (state: StreamState) => void;
  clock?: Clock;
  random?: () => number;
  ua?: string;
  /** Replace a connection from which nothing (not even a pong) arrived for this long. */
  livenessMs?: number;
  pingIntervalMs?: number;
  /** A connection that lasted this long resets the back-off. */
  stableMs?: number;
  /** The ticket request (connections/open), answer included, must be done within this. */
  ticketTimeoutMs?: number;
  /** ws's handshakeTimeout: the WebSocket upgrade gives up after this long without an answer. */
  handshakeTimeoutMs?: number;
  /** The whole attempt (ticket and handshake), even when each step keeps trickling in. */
  connectTimeoutMs?: number;
}

const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 60_000;
const TICKET_TIMEOUT_MS = 10_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 30_000;

const seconds = (ms: number) => `${ms / 1000} s`;

/**
 * Why the connection is retried, as a code and its facts (host, status, DingTalk's error code) rather than
 * a sentence, so a node can say it in the user's language; `error` keeps the sentence for logs.
 */
export interface ReconnectReason {
  code: 'closed' | 'timeout' | 'unreachable' | 'refused' | 'ws-refused' | 'error';
  params?: Record<string, string | number>;
}

class StreamError extends Error {
  constructor(
    message: string,
    readonly reason: ReconnectReason,
  ) {
    super(message);
  }
}

/** The reason of a failed attempt: ours, or a socket error's code (ECONNREFUSED…). */
function reasonOf(err: unknown): ReconnectReason {
  if (err instanceof StreamError) return err.reason;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return { code: 'error', params: { detail: typeof code === 'string' ? code : '' } };
}

export class StreamClient {
  private readonly clock: Clock;
  private readonly random: () => number;
  private current: WebSocket | undefined;
  private readonly draining = new Set<WebSocket>();
  private failures = 0;
  private reconnectTimer: unknown;
  private livenessTimer: unknown;
  private connecting = false;
  /** Aborts the attempt in flight (its deadline, or stop()). */
  private attempt: AbortController | undefined;
  private stopped = true;
  private connectedAt = 0;
  private lastFrameAt = 0;
  /** Connections opened so far (tests and the status use it). */
  connections = 0;

  constructor(private readonly options: StreamClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.attempt?.abort(new Error('stopped'));
    if (this.reconnectTimer !== undefined) this.clock.clearTimer(this.reconnectTimer);
    if (this.livenessTimer !== undefined) this.clock.clearTimer(this.livenessTimer);
    this.reconnectTimer = undefined;
    this.livenessTimer = undefined;
    const sockets = [this.current, ...this.draining].filter((s): s is WebSocket => s !== undefined);
    this.current = undefined;
    this.draining.clear();
    await Promise.all(sockets.map((s) => new Promise<void>((resolve) => {
      if (s.readyState === WebSocket.CLOSED) return resolve();
      s.once('close', () => resolve());
      s.terminate();
    })));
    this.options.onState?.({ state: 'stopped' });
  }

  /**
   * One connection attempt: ticket, then WebSocket, within the attempt's deadline (real time, like
   * the socket's own timeouts). Failures, expiries included, schedule the next attempt.
   */
  private async connect(): Promise<void> {
    if (this.stopped || this.connecting) return;
    this.connecting = true;
    this.options.onState?.({ state: 'connecting' });
    const attempt = new AbortController();
    this.attempt = attempt;
    const deadlineMs = this.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
    const deadline = setTimeout(() => attempt.abort(new StreamError(`not connected within ${seconds(deadlineMs)}`, { code: 'timeout', params: { seconds: deadlineMs / 1000 } })), deadlineMs);
    try {
      const { endpoint, ticket } = await this.openTicket(attempt.signal);
      if (this.stopped) return;
      const socket = await this.openSocket(`${endpoint}${endpoint.includes('?') ? '&' : '?'}ticket=${encodeURIComponent(ticket)}`, attempt.signal);
      if (this.stopped) {
        socket.terminate();
        return;
      }
      this.adopt(socket);
    } catch (err) {
      this.scheduleReconnect((err as Error).message, reasonOf(err));
    } finally {
      clearTimeout(deadline);
      if (this.attempt === attempt) this.attempt = undefined;
      this.connecting = false;
    }
  }

  /** The WebSocket once its handshake is done; rejects on a refusal, ws's handshake timeout or `signal`. */
  private openSocket(url: string, signal: AbortSignal): Promise<WebSocket> {
    const socket = new WebSocket(url, { handshakeTimeout: this.options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS });
    // Listen before 'open' settles the promise: a frame that arrives with the handshake is emitted
    // before the awaiting code runs, and would be lost (never acknowledged).
    socket.on('message', (raw) => this.onMessage(socket, raw.toString()));
    // Errors: while connecting the promise below takes the first one (terminate() may report another);
    // once open, 'close' follows each one and decides.
    socket.on('error', () => undefined);
    return new Promise<WebSocket>((resolve, reject) => {
      const settle = (err?: Error) => {
        signal.removeEventListener('abort', onAbort);
        if (!err) return resolve(socket);
        socket.terminate();
        reject(err);
      };
      const onAbort = () => settle(signal.reason as Error);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('open', () => settle());
      socket.once('error', (err) => settle(err));
      socket.once('unexpected-response', (req, res) => {
        // With this listener ws leaves the refused handshake to us: let go of its connection.
        res.resume();
        req.destroy();
        settle(new StreamError(`WebSocket refused: HTTP ${res.statusCode}`, { code: 'ws-refused', params: { status: res.statusCode ?? 0 } }));
      });
    });
  }

  /** A fresh endpoint and ticket, the answer read within the ticket timeout (and the attempt's `signal`). */
  private async openTicket(signal: AbortSignal): Promise<{ endpoint: string; ticket: string }> {
    const apiUrl = (this.options.apiUrl ?? 'https://api.dingtalk.com').replace(/\/+$/, '');
    const host = new URL(apiUrl).host;
    const timeoutMs = this.options.ticketTimeoutMs ?? TICKET_TIMEOUT_MS;
    const request = new AbortController();
    const onAbort = () => request.abort(signal.reason);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => request.abort(new StreamError(`no ticket from ${host} within ${seconds(timeoutMs)}`, { code: 'timeout', params: { seconds: timeoutMs / 1000 } })), timeoutMs);
    let res: Response;
    let body: Record<string, unknown>;
    try {
      res = await fetch(`${apiUrl}/v1.0/gateway/connections/open`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          clientId: this.options.clientId,
          clientSecret: this.options.clientSecret,
          subscriptions: [{ type: 'EVENT', topic: '*' }],
          ua: this.options.ua ?? 'node-red-dingtalk',
        }),
        signal: request.signal,
      });
      body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    } catch (err) {
      if (request.signal.aborted) throw request.signal.reason as Error;
      const detail = ((err as Error & { cause?: { code?: unknown } }).cause?.code as string | undefined) ?? '';
      throw new StreamError(`could not reach ${host}: ${(err as Error).message}`, { code: 'unreachable', params: { host, detail } });
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    // An answer cut off by the deadline reads as no JSON: say why it stopped instead.
    if (request.signal.aborted) throw request.signal.reason as Error;
    if (!res.ok || typeof body.endpoint !== 'string' || typeof body.ticket !== 'string') {
      const code = typeof body.code === 'string' ? body.code : `HTTP ${res.status}`;
      const message = typeof body.message === 'string' ? body.message : 'no endpoint in the answer';
      throw new StreamError(`${code}: ${message}`, { code: 'refused', params: { code } });
    }
    return { endpoint: body.endpoint, ticket: body.ticket };
  }

  private adopt(socket: WebSocket): void {
    this.connections += 1;
    this.current = socket;
    this.connectedAt = this.clock.now();
    this.lastFrameAt = this.connectedAt;
    this.options.onState?.({ state: 'connected', since: this.connectedAt });
    socket.on('pong', () => {
      this.lastFrameAt = this.clock.now();
    });
    socket.on('close', () => this.onClose(socket));
    this.armLiveness();
  }

  private onClose(socket: WebSocket): void {
    if (this.draining.delete(socket)) return; // the replacement is already in place
    if (socket !== this.current) return;
    this.current = undefined;
    if (this.stopped) return;
    const lasted = this.clock.now() - this.connectedAt;
    if (lasted >= (this.options.stableMs ?? 60_000)) this.failures = 0;
    this.scheduleReconnect('connection closed', { code: 'closed' });
  }

  private scheduleReconnect(error: string, reason: ReconnectReason): void {
    if (this.stopped || this.reconnectTimer !== undefined) return;
    const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.failures);
    const inMs = Math.round(delay * (0.8 + 0.4 * this.random())); // ±20 % jitter
    this.failures += 1;
    this.options.onState?.({ state: 'reconnecting', inMs, error, reason });
    this.reconnectTimer = this.clock.setTimer(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, inMs);
  }

  private armLiveness(): void {
    if (this.livenessTimer !== undefined) this.clock.clearTimer(this.livenessTimer);
    const every = this.options.pingIntervalMs ?? 30_000;
    this.livenessTimer = this.clock.setTimer(() => {
      this.livenessTimer = undefined;
      const socket = this.current;
      if (this.stopped || !socket) return;
      if (this.clock.now() - this.lastFrameAt > (this.options.livenessMs ?? 90_000)) {
        socket.terminate(); // silent: 'close' reconnects
        return;
      }
      if (socket.readyState === WebSocket.OPEN) socket.ping();
      this.armLiveness();
    }, every);
  }

  private send(socket: WebSocket, frame: unknown): void {
    if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  private onMessage(socket: WebSocket, text: string): void {
    this.lastFrameAt = this.clock.now();
    let frame: StreamFrame;
    try {
      frame = JSON.parse(text) as StreamFrame;
    } catch {
      return; // not a frame: nothing to acknowledge
    }
    const headers = frame.headers ?? {};
    const messageId = headers.messageId;
    const ack = (data: string, code = 200, message = 'OK') =>
      this.send(socket, { code, headers: { contentType: 'application/json', messageId }, message, data });

    if (frame.type === 'SYSTEM') {
      if (headers.topic === 'ping') ack(frame.data);
      else if (headers.topic === 'disconnect' && socket === this.current) {
        // make-before-break: keep reading this one until the server closes it
        this.draining.add(socket);
        this.current = undefined;
        void this.connect();
      }
      return; // other SYSTEM topics (CONNECTED, REGISTERED, KEEPALIVE) need nothing
    }
    if (frame.type === 'EVENT') {
      this.options.onEvent(frame).then(
        (status) => ack(JSON.stringify({ status, message: status === 'SUCCESS' ? 'success' : 'later' })),
        (err: Error) => ack(JSON.stringify({ status: 'LATER', message: err.message })),
      );
      return;
    }
    if (frame.type === 'CALLBACK') ack(JSON.stringify({ response: null }));
  }
}
