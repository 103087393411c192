'use strict';
// A --require preload that makes this process look like one whose better-sqlite3 was compiled for another
// Node.js (the state of a user directory after an upgrade of Node): loading a compiled module from the
// better-sqlite3 package fails in process.dlopen with Node's own error for an ABI mismatch, word for word
// (node_binding.cc), whichever way the package finds its module (bindings in 12.x, prebuilds/ in 13.x).
// ABI_MISMATCH_BUILT sets the NODE_MODULE_VERSION the module claims to be built for (default 115, Node 20;
// 127, Node 22, when this Node is 20).
const path = require('node:path');

const required = process.versions.modules;
const built = process.env.ABI_MISMATCH_BUILT || (required === '115' ? '127' : '115');
const dlopen = process.dlopen;
process.dlopen = function (module, filename, ...rest) {
  if (!filename.split(path.sep).includes('better-sqlite3')) return dlopen.call(this, module, filename, ...rest);
  throw Object.assign(new Error(`The module '${filename}'
was compiled against a different Node.js version using
NODE_MODULE_VERSION ${built}. This version of Node.js requires
NODE_MODULE_VERSION ${required}. Please try re-compiling or re-installing
the module (for instance, using \`npm rebuild\` or \`npm install\`).`), { code: 'ERR_DLOPEN_FAILED' });
};
