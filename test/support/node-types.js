'use strict';
// The node types a package registers, read from the editor .html beside each `node-red.nodes` entry and
// split by the literal `category` of each registerType call (config nodes live in the config sidebar).
const fs = require('node:fs');
const path = require('node:path');

/** { pkg, palette: [{type, category}], config: [{type, category}] } for the package in `pkgDir`. */
function nodeTypes(pkgDir) {
  const pkg = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const palette = [];
  const config = [];
  for (const file of Object.values(pkg['node-red']?.nodes || {})) {
    const htmlFile = file.replace(/\.js$/, '.html');
    const calls = fs.readFileSync(path.join(pkgDir, htmlFile), 'utf8').split(/RED\.nodes\.registerType\(/).slice(1);
    if (calls.length === 0) throw new Error(`${htmlFile} registers no node type`);
    for (const call of calls) {
      const type = /^\s*['"]([^'"]+)['"]/.exec(call)?.[1];
      if (!type) throw new Error(`${htmlFile}: registerType without a literal type string`);
      const category = /\bcategory\s*:\s*['"]([^'"]+)['"]/.exec(call)?.[1];
      (category === 'config' ? config : palette).push({ type, category });
    }
  }
  return { pkg, palette, config };
}

module.exports = { nodeTypes };
