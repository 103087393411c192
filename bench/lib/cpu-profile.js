'use strict';
// Preloaded into Node-RED (NODE_OPTIONS=--require) when BENCH_PROFILE is set: samples the CPU from
// start to exit and writes <BENCH_PROFILE>/node-red-<pid>.cpuprofile (node bench/profile.js reads it).
const fs = require('node:fs');
const path = require('node:path');
const inspector = require('node:inspector');

const dir = path.resolve(process.env.BENCH_PROFILE);
const session = new inspector.Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.on('exit', () => {
  // the main-thread session answers synchronously, so this completes before the process ends
  session.post('Profiler.stop', (err, result) => {
    if (err) return;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `node-red-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
