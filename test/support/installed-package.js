'use strict';
// Where an installed npm package sits and what its package.json declares: the tests copy better-sqlite3
// (12.x or 13.x, whichever this checkout has) from what npm installed, never from how its loader works
// inside (12.x loads its compiled module through the `bindings` package, 13.x ships prebuilt binaries).
const fs = require('node:fs');
const path = require('node:path');

/** The folder of package `name` as Node would find it from `from`: the nearest node_modules/<name> up the tree. */
function packageDir(name, from) {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
    if (path.dirname(dir) === dir) throw new Error(`package ${name} is not installed above ${from}`);
  }
}

/** The package.json of the package in `dir`. */
function manifest(dir) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
}

/**
 * Copies the JavaScript of the installed package `name` into `<dest>/node_modules/<name>` (its package.json
 * and the folder of its entry point, nothing compiled) and links its declared dependencies beside it, so it
 * loads the way it would after an install that produced no compiled module. Returns the copy's folder.
 */
function copyWithoutCompiledModule(name, dest, from = __dirname) {
  const src = packageDir(name, from);
  const pkg = manifest(src);
  const copy = path.join(dest, 'node_modules', name);
  const entry = path.dirname(path.join(src, pkg.main || 'index.js'));
  if (entry === src) throw new Error(`${name}'s entry point sits at its top: its JavaScript cannot be copied apart`);
  fs.mkdirSync(copy, { recursive: true });
  fs.copyFileSync(path.join(src, 'package.json'), path.join(copy, 'package.json'));
  fs.cpSync(entry, path.join(copy, path.relative(src, entry)), { recursive: true });
  for (const dep of Object.keys(pkg.dependencies || {})) {
    const link = path.join(dest, 'node_modules', dep);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync(packageDir(dep, src), link, 'dir');
  }
  return copy;
}

/**
 * Copies the installed package `name` and everything it depends on (its package.json `dependencies`, over
 * and over) from `<root>/node_modules` into `<dest>/node_modules`, each at the same path inside: npm's
 * layout of the checkout, so every copy finds its dependencies where it found them there.
 */
function copyWithDependencies(name, root, dest) {
  const from = fs.realpathSync(path.join(root, 'node_modules'));
  const seen = new Set();
  const queue = [packageDir(name, root)];
  while (queue.length) {
    const dir = queue.shift();
    if (seen.has(dir)) continue;
    seen.add(dir);
    const rel = path.relative(from, dir);
    if (rel.startsWith('..')) throw new Error(`${dir} is outside ${from}: it cannot be copied at the same place`);
    fs.cpSync(dir, path.join(dest, 'node_modules', rel), { recursive: true });
    for (const dep of Object.keys(manifest(dir).dependencies || {})) queue.push(packageDir(dep, dir));
  }
}

module.exports = { packageDir, manifest, copyWithoutCompiledModule, copyWithDependencies };
