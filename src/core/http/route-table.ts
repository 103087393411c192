/**
 * One dispatcher middleware per express app, with a table of path -> handler.
 *
 * Core `http in` adds a route per node and later splices the first route with the same path out of
 * the router stack, whoever owns it; partial redeploys then leak or steal routes
 * (node-red-notes.md §4.3). Here the middleware is registered once per app and nodes only add and
 * remove their own table entries, so nothing leaks and a second node on a taken path is detected.
 * Core `http in` also runs `httpNodeMiddleware` per route; the table does the same for its owners.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Middleware, runChain } from './middleware-chain';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;
type Next = (err?: unknown) => void;

interface MiddlewareHost {
  use(middleware: (req: IncomingMessage & { path?: string }, res: ServerResponse, next: Next) => void): unknown;
}

/** Paths compare without a trailing slash and always with a leading one; case matters, as in URLs. */
export function normalisePath(path: string): string {
  let p = path.trim();
  if (!p.startsWith('/')) p = '/' + p;
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

/**
 * The table's key for a path, configured or requested: percent-escapes decoded (a malformed one kept
 * as it is), then normalised. Decoding both sides makes a configured "/a%20b" answer the URL it names
 * and a configured "/钉钉" the encoded URL a client sends for it.
 */
export function routeKey(path: string): string {
  try {
    return normalisePath(decodeURIComponent(path));
  } catch {
    return normalisePath(path);
  }
}

function requestPath(req: IncomingMessage & { path?: string }): string {
  // express sets req.path relative to the mount point (httpNodeRoot); fall back to the raw URL.
  return routeKey(req.path ?? (req.url ?? '/').split('?')[0]);
}

/** One receiver's claim on a path. `id` survives redeploys (the node id); the rest is per instance. */
export interface Claimant {
  id: string;
  /** How other claimants name this one while it holds the path: the node's name or id. */
  label: string;
  handler: RouteHandler;
  /** Called when this claim, which had to wait, becomes the owner of its path. */
  onActive?: () => void;
  /** Called while waiting when the holder of the path changes its label (a redeploy renamed it). */
  onWaiting?: (holder: string) => void;
  /** Answers a request that `httpNodeMiddleware` failed with `next(err)`; without it express does. */
  onMiddlewareError?: (err: unknown, req: IncomingMessage, res: ServerResponse) => void;
}

/** A claim; without a handler it is a reservation, kept for an owner being redeployed. */
type Claim = Omit<Claimant, 'handler'> & { handler?: RouteHandler };

/**
 * `reserved`: the holder is a reservation for a receiver being redeployed, which the deploy may still
 * end (the receiver was deleted, or moved to the path this claimant leaves): no conflict before then.
 */
export type ClaimResult = { owner: true } | { owner: false; holder: string; reserved: boolean };

export class RouteTable {
  /**
   * path -> claims, owner first; later claims wait in order. Only the owner can be a reservation.
   * Ownership goes by node id, not arrival: a redeploy closes the owner and builds a new instance with
   * the same id, and the path must not go to a waiting receiver in between.
   */
  private readonly routes = new Map<string, Claim[]>();
  private nodeMiddleware: readonly Middleware[] = [];

  /** `httpNodeMiddleware` functions, run in front of every owner's handler (see middleware-chain). */
  useNodeMiddleware(chain: readonly Middleware[]): void {
    this.nodeMiddleware = chain;
  }

  /**
   * Claims `path`. The claimant owns it when the path is free or reserved for the same id; otherwise
   * it waits and `onActive` runs once the owner is gone for good.
   */
  claim(path: string, claimant: Claimant): ClaimResult {
    const key = routeKey(path);
    // A node redeployed onto another path gives up what it held or reserved elsewhere.
    for (const other of [...this.routes.keys()]) {
      if (other !== key) this.drop(other, (c) => c.id === claimant.id);
    }
    const claims = this.routes.get(key) ?? [];
    this.routes.set(key, claims);
    const index = claims.findIndex((c) => c.id === claimant.id);
    if (index >= 0) claims[index] = { ...claimant };
    else claims.push({ ...claimant });
    if (claims[0].id === claimant.id) {
      this.tellWaiting(claims);
      return { owner: true };
    }
    return { owner: false, holder: claims[0].label, reserved: claims[0].handler === undefined };
  }

  /**
   * Withdraws the claim of `handler` on `path`. With `reserve` (the node is being redeployed, not
   * deleted) an owner keeps the path as a reservation until it claims again or `settle()` runs; a
   * waiting claim is always dropped. Returns whether a reservation was kept.
   */
  release(path: string, handler: RouteHandler, { reserve = false } = {}): boolean {
    const key = routeKey(path);
    const claims = this.routes.get(key);
    if (claims === undefined) return false;
    if (reserve && claims[0].handler === handler) {
      const { id, label } = claims[0];
      claims[0] = { id, label };
      return true;
    }
    this.drop(key, (c) => c.handler === handler);
    return false;
  }

  /** Ends every reservation whose owner did not come back (after a deploy has started the flows). */
  settle(): void {
    for (const key of [...this.routes.keys()]) this.drop(key, (c, i) => i === 0 && c.handler === undefined);
  }

  private drop(key: string, match: (claim: Claim, index: number) => boolean): void {
    const claims = this.routes.get(key);
    if (claims === undefined) return;
    const index = claims.findIndex(match);
    if (index < 0) return;
    claims.splice(index, 1);
    if (claims.length === 0) {
      this.routes.delete(key);
      return;
    }
    if (index === 0) {
      claims[0].onActive?.();
      this.tellWaiting(claims);
    }
  }

  private tellWaiting(claims: Claim[]): void {
    for (const waiting of claims.slice(1)) waiting.onWaiting?.(claims[0].label);
  }

  /** Number of paths served. */
  get size(): number {
    return this.routes.size;
  }

  /** Number of claims, waiting ones and reservations included: tests use it to prove nothing leaks. */
  get claims(): number {
    let n = 0;
    for (const claims of this.routes.values()) n += claims.length;
    return n;
  }

  /** Number of paths held for an owner being redeployed. */
  get reserved(): number {
    let n = 0;
    for (const claims of this.routes.values()) if (claims[0].handler === undefined) n += 1;
    return n;
  }

  /** The label of whoever holds `path` now, if anyone. */
  holderOf(path: string): string | undefined {
    return this.routes.get(routeKey(path))?.[0].label;
  }

  paths(): string[] {
    return [...this.routes.keys()];
  }

  readonly middleware = (req: IncomingMessage & { path?: string }, res: ServerResponse, next: Next): void => {
    const key = requestPath(req);
    if (this.routes.get(key)?.[0].handler === undefined) {
      next();
      return;
    }
    runChain(this.nodeMiddleware, req, res, (end) => {
      // Middleware may be asynchronous: serve whoever owns the path now, if anyone still does.
      const owner = this.routes.get(key)?.[0];
      if (end.kind === 'skip-route' || owner?.handler === undefined) {
        next();
        return;
      }
      if (end.kind === 'error') {
        if (owner.onMiddlewareError) owner.onMiddlewareError(end.error, req, res);
        else next(end.error);
        return;
      }
      try {
        owner.handler(req, res);
      } catch (err) {
        next(err);
      }
    });
  };
}

const tables = new WeakMap<object, RouteTable>();

/**
 * The table for an express app, installing its middleware the first time. Keyed by the app object:
 * the test helper hands every load a fresh RED.httpNode, and a real runtime keeps one for its life.
 */
export function routeTableFor(app: MiddlewareHost): RouteTable {
  let table = tables.get(app);
  if (table === undefined) {
    table = new RouteTable();
    app.use(table.middleware);
    tables.set(app, table);
  }
  return table;
}
