/**
 * Runs Node-RED's `httpNodeMiddleware` in front of a receiver, the way core `http in` does by handing
 * it to express as route callbacks: a function or an array of functions (nested arrays flattened,
 * anything else ignored, as core ignores a setting of another type). Express's rules apply: `next()`
 * goes on, `next(err)` (or a throw) skips to error-handling functions (four parameters) and then to
 * the caller's error path, `next('route')` / `next('router')` leave the route, and a function that
 * answers without calling `next` ends the request there.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

type Plain = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
type ErrorHandling = (err: unknown, req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;
export type Middleware = Plain | ErrorHandling;

/** How a chain ended: on to the handler, out of the route, or with an error nobody handled. */
export type ChainEnd = { kind: 'handle' } | { kind: 'skip-route' } | { kind: 'error'; error: unknown };

/** The functions of an `httpNodeMiddleware` setting, in order; empty for anything else. */
export function middlewareList(setting: unknown): Middleware[] {
  if (typeof setting === 'function') return [setting as Middleware];
  if (!Array.isArray(setting)) return [];
  return (setting.flat(Infinity) as unknown[]).filter((f): f is Middleware => typeof f === 'function');
}

/**
 * Calls `chain` in order and then `done` once with how it ended. `done` is never called when a
 * function answered the request itself (it never called `next`).
 */
export function runChain(chain: readonly Middleware[], req: IncomingMessage, res: ServerResponse, done: (end: ChainEnd) => void): void {
  let index = 0;
  const step = (err?: unknown): void => {
    if (err === 'route' || err === 'router') {
      done({ kind: 'skip-route' });
      return;
    }
    const fn = chain[index++];
    if (fn === undefined) {
      done(err === undefined ? { kind: 'handle' } : { kind: 'error', error: err });
      return;
    }
    // Like express's Layer: error-handling functions only see errors, the others only requests.
    const handlesErrors = fn.length === 4;
    if (handlesErrors !== (err !== undefined)) {
      step(err);
      return;
    }
    let called = false;
    const next = (e?: unknown) => {
      if (called) return; // a second next() from a careless middleware must not run the receiver twice
      called = true;
      step(e);
    };
    try {
      if (handlesErrors) (fn as ErrorHandling)(err, req, res, next);
      else (fn as Plain)(req, res, next);
    } catch (thrown) {
      next(thrown ?? new Error('middleware threw'));
    }
  };
  step();
}

/** The status express's final handler would answer for an error: its 4xx/5xx `status`, else 500. */
export function errorStatus(err: unknown): number {
  const e = err as { status?: unknown; statusCode?: unknown } | null;
  const status = typeof e?.status === 'number' ? e.status : e?.statusCode;
  return typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
}
