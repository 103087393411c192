'use strict';
// node-red-node-test-helper's RED has no RED.hooks (Node-RED gives nodes the runtime's since 2.0), and
// the hand-off tracker follows messages with them: give the helper's RED the runtime's own hooks.
const { hooks } = require('@node-red/util');

const withHooks = (register) => (RED) => {
  RED.hooks = hooks;
  return register(RED);
};

module.exports = { hooks, withHooks };
