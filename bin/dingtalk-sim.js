#!/usr/bin/env node
// dingtalk-sim: push signed, encrypted DingTalk events to a callback receiver (see `dingtalk-sim --help`).
// The logic is compiled TypeScript in core/sim/ (src/core/sim/).
'use strict';
const { main } = require('../core/sim/cli.js');

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`dingtalk-sim: ${err && err.stack ? err.stack : err}`); process.exitCode = 1; },
);
