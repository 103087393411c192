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

export class RouteTable {
  private readonly routes = new Map<string, RouteHandler>();

  /** Claims `path` for `handler`. Returns false (and changes nothing) when another handler holds it. */
  add(path: string, handler: RouteHandler): boolean {
    const key = normalisePath(path);
    const current = this.routes.get(key);
    if (current !== undefined && current !== handler) return false;
    this.routes.set(key, handler);
    return true;
  }

  /** Releases `path` only if `handler` still owns it. */
  remove(path: string, handler: RouteHandler): void {
    const key = normalisePath(path);
    if (this.routes.get(key) === handler) this.routes.delete(key);
  }

  get size(): number {
    return this.routes.size;
  }

  paths(): string[] {
    return [...this.routes.keys()];
  }

  readonly middleware = (req: IncomingMessage & { path?: string }, res: ServerResponse, next: Next): void => {
    const handler = this.routes.get(requestPath(req));
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
