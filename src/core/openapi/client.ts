/**
 * DingTalk OpenAPI client for one app (dingtalk-protocol.md §12, §13): the access token is fetched
 * once and shared until shortly before it expires, refreshed once when DingTalk says it expired,
 * rate limits are retried after a back-off, and an IP block pauses every call for the time DingTalk
 * names. Neither the secret nor the token ever appears in an error message.
 *
 *   old family "oapi"  https://oapi.dingtalk.com/...?access_token=   errors: HTTP 200 + errcode
 *   new family "api"   https://api.dingtalk.com/v1.0/...  header x-acs-dingtalk-access-token
 *                      errors: HTTP 4xx/5xx + {code, message, requestid}
 */

export type ApiFamily = 'api' | 'oapi';

export class OpenApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status?: number,
    readonly subCode?: string,
  ) {
    super(message);
    this.name = 'OpenApiError';
  }
}

export interface ClientOptions {
  appKey: string;
  appSecret: string;
  oapiUrl?: string;
  apiUrl?: string;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** How long before expiry a cached token is replaced. */
  refreshMarginMs?: number;
  timeoutMs?: number;
}

export interface CallOptions {
  family: ApiFamily;
  method?: string;
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
}

const TOKEN_EXPIRED = new Set(['40014', '42001', '40001001']);
const RATE_LIMITED = new Set(['90018', '90002', '-1']);
const BACKOFF_MS = [1000, 2000, 4000];
const DEFAULT_BLOCK_MINUTES = 5;

type Json = Record<string, unknown>;

export class OpenApiClient {
  private token: { value: string; expiresAt: number } | undefined;
  private pending: Promise<string> | undefined;
  private blockedUntil = 0;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  readonly oapiUrl: string;
  readonly apiUrl: string;
  /** How many tokens were fetched (tests and the status use it). */
  tokensFetched = 0;

  constructor(private readonly options: ClientOptions) {
    if (!options.appKey || !options.appSecret) throw new OpenApiError('not-configured', 'AppKey and AppSecret are needed for API calls');
    this.now = options.now ?? Date.now;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.oapiUrl = (options.oapiUrl ?? 'https://oapi.dingtalk.com').replace(/\/+$/, '');
    this.apiUrl = (options.apiUrl ?? 'https://api.dingtalk.com').replace(/\/+$/, '');
  }

  /** The cached access token, fetched when missing or about to expire; concurrent callers share one fetch. */
  async accessToken(): Promise<string> {
    const margin = this.options.refreshMarginMs ?? 5 * 60_000;
    if (this.token && this.token.expiresAt - margin > this.now()) return this.token.value;
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** Forgets the cached token (after DingTalk said it is invalid or expired). */
  invalidate(): void {
    this.token = undefined;
  }

  private async fetchToken(): Promise<string> {
    this.checkBlock();
    const res = await this.http('POST', `${this.apiUrl}/v1.0/oauth2/accessToken`, {}, { appKey: this.options.appKey, appSecret: this.options.appSecret });
    // The token request is a call like any other: DingTalk's IP block answers it too.
    const blocked = this.blockOf(res);
    if (blocked) throw blocked;
    if (res.status >= 200 && res.status < 300 && typeof res.json.accessToken === 'string') {
      return this.keep(res.json.accessToken, Number(res.json.expireIn ?? 7200));
    }
    if (res.status === 404 || res.status >= 500) {
      // The new endpoint is unreachable here (private deployment, outage): the old one issues the same token.
      const old = await this.http('GET', `${this.oapiUrl}/gettoken?${new URLSearchParams({ appkey: this.options.appKey, appsecret: this.options.appSecret })}`);
      const oldBlocked = this.blockOf(old);
      if (oldBlocked) throw oldBlocked;
      if (old.json.errcode === 0 && typeof old.json.access_token === 'string') return this.keep(old.json.access_token, Number(old.json.expires_in ?? 7200));
      throw this.errorOf('oapi', old);
    }
    throw this.errorOf('api', res);
  }

  private keep(value: string, expiresInSeconds: number): string {
    this.tokensFetched += 1;
    this.token = { value, expiresAt: this.now() + expiresInSeconds * 1000 };
    return value;
  }

  private checkBlock(): void {
    if (this.now() < this.blockedUntil) {
      throw new OpenApiError('ip-blocked', `DingTalk blocked calls from this address; calls resume at ${new Date(this.blockedUntil).toISOString()}`);
    }
  }

  /** Calls an API with the app's token; resolves with the JSON result or rejects with OpenApiError. */
  async call(options: CallOptions): Promise<Json> {
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      this.checkBlock();
      const token = await this.accessToken();
      const method = (options.method ?? (options.body === undefined ? 'GET' : 'POST')).toUpperCase();
      const query = new URLSearchParams();
      for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined && v !== null) query.set(k, typeof v === 'string' ? v : JSON.stringify(v));
      const headers: Record<string, string> = {};
      let base: string;
      if (options.family === 'oapi') {
        base = this.oapiUrl;
        query.set('access_token', token);
      } else {
        base = this.apiUrl;
        headers['x-acs-dingtalk-access-token'] = token;
      }
      const path = options.path.startsWith('/') ? options.path : `/${options.path}`;
      const qs = query.toString();
      const res = await this.http(method, `${base}${path}${qs ? `?${qs}` : ''}`, headers, method === 'GET' || method === 'DELETE' ? undefined : options.body ?? {});
      const error = this.failureOf(options.family, res);
      if (!error) return res.json;

      if (error.code === 'ip-blocked') throw error;
      if (!refreshed && (TOKEN_EXPIRED.has(error.code) || (error.code === '88' && TOKEN_EXPIRED.has(error.subCode ?? '')) || error.code === 'InvalidAuthentication')) {
        refreshed = true;
        this.invalidate();
        continue;
      }
      const limited = RATE_LIMITED.has(error.code) || error.code.startsWith('Forbidden.AccessDenied.Qp');
      if (limited && attempt < BACKOFF_MS.length) {
        await this.sleep(BACKOFF_MS[attempt]);
        continue;
      }
      throw error;
    }
  }

  /** The error a response carries, or undefined for success (and records an IP block). */
  private failureOf(family: ApiFamily, res: { status: number; json: Json; text: string }): OpenApiError | undefined {
    const blocked = this.blockOf(res);
    if (blocked) return blocked;
    if (family === 'oapi') {
      if (res.status >= 200 && res.status < 300 && (res.json.errcode === 0 || res.json.errcode === undefined) && res.text.trim().startsWith('{')) return undefined;
    } else if (res.status >= 200 && res.status < 300) {
      return undefined;
    }
    return this.errorOf(family, res);
  }

  /** The IP punishment answer has no errcode: HTML, or {"status":1111,"wait":5,"punish":"deny",…} (§13). */
  private blockOf(res: { status: number; json: Json; text: string }): OpenApiError | undefined {
    const isDeny = res.json.punish === 'deny' || res.json.status === 1111 || /^\s*<(!doctype|html)/i.test(res.text);
    if (!isDeny) return undefined;
    const minutes = Number(res.json.wait) > 0 ? Number(res.json.wait) : DEFAULT_BLOCK_MINUTES;
    this.blockedUntil = this.now() + minutes * 60_000;
    return new OpenApiError('ip-blocked', `DingTalk blocked calls from this address for ${minutes} minutes`, res.status);
  }

  private errorOf(family: ApiFamily, res: { status: number; json: Json; text: string }): OpenApiError {
    if (family === 'oapi' || res.json.errcode !== undefined) {
      const code = String(res.json.errcode ?? res.status);
      const sub = res.json.sub_code !== undefined ? String(res.json.sub_code) : undefined;
      const message = [res.json.errmsg, res.json.sub_msg].filter((x) => typeof x === 'string' && x).join(': ') || `HTTP ${res.status}`;
      return new OpenApiError(code, message, res.status, sub);
    }
    const code = typeof res.json.code === 'string' ? res.json.code : `HTTP ${res.status}`;
    const message = typeof res.json.message === 'string' ? res.json.message : res.text.slice(0, 200) || `HTTP ${res.status}`;
    return new OpenApiError(code, message, res.status);
  }

  private async http(method: string, url: string, headers: Record<string, string> = {}, body?: unknown): Promise<{ status: number; json: Json; text: string }> {
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 15_000),
      });
    } catch (err) {
      // The URL carries the token for the old family: never repeat it.
      throw new OpenApiError('network', `could not reach ${new URL(url).host}: ${(err as Error).message}`);
    }
    const text = await res.text();
    let json: Json = {};
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) json = parsed as Json;
    } catch {
      // not JSON: the error path reports the status
    }
    return { status: res.status, json, text };
  }
}
