'use strict';
// The load balancer of the redis section's scale part in a process of its own, so that its CPU is
// measured apart: the multi-instance tests' round-robin proxy (test/support/round-robin-proxy.js),
// driven by bench/redis.js.
const { startRoundRobinProxy } = require('../../test/support/round-robin-proxy');
const { serve } = require('./child');

let proxy;

serve({
  start: async () => {
    proxy = await startRoundRobinProxy([]);
    return proxy.url;
  },
  /** Replaces the targets (base URLs) and starts counting requests per target again. */
  targets: ({ targets }) => {
    proxy.targets = targets;
    proxy.sent.clear();
    return true;
  },
  /** Requests sent to each target since the last `targets`, in the targets' order. */
  sent: () => proxy.targets.map((t) => proxy.sent.get(t) || 0),
});
