'use strict';
// Temporary folders that tests create, removed again: those made during a test after that test
// (a root afterEach, which runs after the suites' own afterEach hooks have unloaded their flows and
// closed their stores), the others (made in before hooks or outside mocha's root hooks, e.g. with
// --no-config) when the process exits.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const forExit = new Set();
let forTest; // a Set while a test (with its beforeEach/afterEach hooks) runs under the root hooks

const remove = (dir) => {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort: a folder still in use is left to the OS's tmp cleaning
  }
};

/** A new empty folder under the OS temp folder, named prefix + random, removed as described above. */
function tempDir(prefix = 'dingtalk-test-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  (forTest || forExit).add(dir);
  return dir;
}

process.on('exit', () => {
  for (const dir of [...(forTest || []), ...forExit]) remove(dir);
});

// Loaded through mocha's `require` (.mocharc*.json): root hooks around every test.
const mochaHooks = {
  beforeEach() {
    forTest = new Set();
  },
  afterEach() {
    const dirs = forTest;
    forTest = undefined;
    for (const dir of dirs) remove(dir);
  },
};

module.exports = { tempDir, mochaHooks };
