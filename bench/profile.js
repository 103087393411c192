#!/usr/bin/env node
// Summarises a V8 CPU profile (BENCH_PROFILE=<dir> npm run bench writes one per Node-RED process):
// self time by area (this package, Node-RED, better-sqlite3, Node internals, GC, idle) and the
// functions with the most self time.
//   node bench/profile.js <file.cpuprofile> [top=25]
'use strict';
const fs = require('node:fs');

const file = process.argv[2];
const TOP = Number(process.argv[3] || 25);
if (!file) {
  console.error('usage: node bench/profile.js <file.cpuprofile> [top]');
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map(); // node id -> microseconds
for (let i = 0; i < profile.samples.length; i++) {
  const dt = profile.timeDeltas[i + 1] ?? 0;
  self.set(profile.samples[i], (self.get(profile.samples[i]) || 0) + dt);
}

function area(frame) {
  const { url, functionName } = frame;
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(program)') return 'native / program';
  if (url.includes('node-red-dingtalk/')) return 'this package';
  if (url.includes('/better-sqlite3/')) return 'better-sqlite3';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url.split('node-red-dingtalk/').pop());
  if (pkg) return pkg[1].startsWith('@node-red/') || pkg[1] === 'node-red' ? 'Node-RED' : pkg[1];
  if (url.startsWith('node:') || url === '') return `node internals${functionName ? '' : ' (native)'}`;
  return 'other';
}

const areas = new Map();
const functions = new Map();
let total = 0;
for (const [id, us] of self) {
  const { callFrame } = byId.get(id);
  total += us;
  const a = area(callFrame);
  areas.set(a, (areas.get(a) || 0) + us);
  const where = callFrame.url ? `${callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\//, '')}:${callFrame.lineNumber + 1}` : '';
  const key = `${callFrame.functionName || '(anonymous)'} ${where}`;
  functions.set(key, (functions.get(key) || 0) + us);
}
const pct = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
const busy = total - (areas.get('idle') || 0);
console.log(`${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy`);
for (const [a, us] of [...areas].sort((x, y) => y[1] - x[1]).slice(0, 12)) console.log(`  ${pct(us)}  ${a}`);
console.log(`top ${TOP} functions by self time:`);
for (const [f, us] of [...functions].sort((x, y) => y[1] - x[1]).slice(0, TOP)) console.log(`  ${pct(us)}  ${f}`);
