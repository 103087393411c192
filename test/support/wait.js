'use strict';
// Waiting on the event itself instead of a fixed sleep: a test goes on as soon as what it waits for
// has happened, and fails with a clear message if it never does (a fixed sleep either wastes time or,
// on a busy machine, asserts too early).

/** Resolves after ms. Only for "nothing more happens within ms" checks: say so where it is used. */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls predicate (sync or async) every `interval` ms until it returns a truthy value, which it
 * resolves with. Rejects after `timeout` ms naming `what` (and the predicate's last error, if it threw).
 */
async function waitFor(predicate, { timeout = 10000, interval = 10, what = 'a condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value;
      last = undefined;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await sleep(interval);
  }
}

module.exports = { sleep, waitFor };
