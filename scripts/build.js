#!/usr/bin/env node
// Build: compile src/ (core -> core/, nodes -> nodes/*.js) and copy icons/ to nodes/icons/, the only
// folder Node-RED searches for a module's icons (beside the node .js files).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
for (const dir of ['core']) fs.rmSync(path.join(root, dir), { recursive: true, force: true });
for (const f of fs.readdirSync(path.join(root, 'nodes'))) {
  if (f.endsWith('.js')) fs.rmSync(path.join(root, 'nodes', f));
}
try {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.json')], {
    stdio: 'inherit',
  });
} catch {
  process.exit(1); // tsc has printed the errors
}
const iconsOut = path.join(root, 'nodes', 'icons');
fs.rmSync(iconsOut, { recursive: true, force: true });
fs.cpSync(path.join(root, 'icons'), iconsOut, { recursive: true });
