/**
 * One dispatcher middleware per express app, with a table of path -> handler.
 *
 * Core `http in` adds a route per node and later splices the first route with the same path out of
 * the router stack, whoever owns it; partial redeploys then leak or steal routes
 * (node-red-notes.md §4.3). Here the middleware is registered once per app and nodes only add and
 * remove their own table entries, so nothing leaks and a second node on a taken path is detected.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

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

function requestPath(req: IncomingMessage & { path?: string }): string {
  // express sets req.path relative to the mount point (httpNodeRoot); fall back to the raw URL.
  const raw = req.path ?? (req.url ?? '/').split('?')[0];
  try {
    return normalisePath(decodeURIComponent(raw));
  } catch {
    return normalisePath(raw);
  }
}

interface Claim {
  handler: RouteHandler;
  /** Called when a claim that had to wait becomes the owner of its path. */
  onActive?: () => void;
}

export class RouteTable {
  /** path -> claims, owner first; later claims wait in order for the path to be released. */
  private readonly routes = new Map<string, Claim[]>();

  /**
   * Claims `path` for `handler`. Returns true when it owns the path now; false when another handler
   * holds it, in which case the claim waits and `onActive` runs if the owner releases the path
   * (so a receiver left inactive by a duplicate takes over when the other one is deleted).
   */
  add(path: string, handler: RouteHandler, onActive?: () => void): boolean {
    const key = normalisePath(path);
    const claims = this.routes.get(key) ?? [];
    const existing = claims.findIndex((c) => c.handler === handler);
    if (existing >= 0) return existing === 0;
    claims.push({ handler, onActive });
    this.routes.set(key, claims);
    return claims.length === 1;
  }

  /** Withdraws `handler`'s claim on `path`; if it was the owner, the next waiting claim takes over. */
  remove(path: string, handler: RouteHandler): void {
    const key = normalisePath(path);
    const claims = this.routes.get(key);
    if (claims === undefined) return;
    const index = claims.findIndex((c) => c.handler === handler);
    if (index < 0) return;
    claims.splice(index, 1);
    if (claims.length === 0) {
      this.routes.delete(key);
      return;
    }
    if (index === 0) claims[0].onActive?.();
  }

  /** Number of paths served. */
  get size(): number {
    return this.routes.size;
  }

  /** Number of claims, waiting ones included: tests use it to prove nothing leaks. */
  get claims(): number {
    let n = 0;
    for (const claims of this.routes.values()) n += claims.length;
    return n;
  }

  paths(): string[] {
    return [...this.routes.keys()];
  }

  readonly middleware = (req: IncomingMessage & { path?: string }, res: ServerResponse, next: Next): void => {
    const handler = this.routes.get(requestPath(req))?.[0].handler;
    if (handler === undefined) {
      next();
      return;
    }
    try {
      handler(req, res);
    } catch (err) {
      next(err);
    }
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
