#!/usr/bin/env node
// Flow Library scorecard (`node-red-dev validate`), offline, with the bar CI holds us to.
//
// The checked folder is the packed tarball extracted into a temp dir WITHOUT node_modules, not the
// repository: that is how the published package is judged. D03 (npm-check) compares the version
// INSTALLED in the checked folder's node_modules with npm's latest; in the repository that is the
// better-sqlite3 12 npm picks on Node 20 (13 needs Node 22) although package.json declares
// `^12.11.1 || ^13.0.0`, so D03 would fail there. Without node_modules the versions resolve from the
// declared ranges, as they do for the Flow Library.
//
// The catalogue lookups of P08/N01 are answered by ../shared/tools/offline-catalogue.js (an empty
// catalogue); P06, P07, D02 and D03 ask the npm registry through the npm client.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { nodeTypes } = require('../test/support/node-types');

const ROOT = path.resolve(__dirname, '..');
const SHIM = path.resolve(ROOT, '..', 'shared', 'tools', 'offline-catalogue.js');
const CLI = path.join(ROOT, 'node_modules', '.bin', 'node-red-dev');
const REQUIRED = ['P01', 'P03', 'P04', 'P05', 'P06', 'P07', 'P08', 'N01', 'N02', 'D01', 'D02', 'D03'];

function fail(message) {
  console.error(`validate: ${message}`);
  process.exit(1);
}

function main() {
  if (!fs.existsSync(SHIM)) {
    fail(`${SHIM} is missing: the offline catalogue shim must sit in ../shared/tools beside the repository`);
  }
  if (!fs.existsSync(CLI)) fail('node_modules/.bin/node-red-dev is missing: run `npm ci` first');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dingtalk-validate-'));
  process.on('exit', () => fs.rmSync(work, { recursive: true, force: true })); // also after fail()
  // npm pack runs the prepare script (the build) first; its output goes to stderr, the JSON to stdout.
  let packed;
  try {
    packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
      cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
    }));
  } catch (e) {
    fail(`npm pack (which builds first) failed: fix the errors above (${e.message.split('\n')[0]})`);
  }
  execFileSync('tar', ['-xzf', path.join(work, packed[0].filename), '-C', work]);
  const pkgDir = path.join(work, 'package');
  const out = path.join(work, 'scorecard.json');

  const run = spawnSync(CLI, ['validate', '-p', pkgDir, '-o', out], {
    cwd: pkgDir,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS || ''} --require ${SHIM}`.trim() },
  });
  if (run.status !== 0 || !fs.existsSync(out)) {
    process.stdout.write(run.stdout || '');
    process.stderr.write(run.stderr || '');
    fail(`node-red-dev validate exited with ${run.status ?? run.signal} and wrote no scorecard`);
  }
  const card = JSON.parse(fs.readFileSync(out, 'utf8'));
  let types;
  try {
    types = nodeTypes(pkgDir);
  } catch (e) {
    fail(e.message);
  }
  const pkg = types.pkg;
  const palette = types.palette.map((n) => n.type);
  const config = types.config.map((n) => n.type);

  const problems = [];
  const rows = REQUIRED.map((id) => {
    const r = card[id];
    const ok = r?.test === true;
    let note = '';
    if (id === 'P01') note = r?.license ?? '';
    if (id === 'P06') note = (r?.versions || []).join(', ');
    if (id === 'P07') note = r?.version ?? '';
    if (id === 'D01') note = `${r?.total ?? '?'} dependencies`;
    if (!ok) problems.push(`${id} failed: ${JSON.stringify(r ?? 'not reported')} (see docs: node-red-dev-cli docs/${id}.md)`);
    return { id, ok, note };
  });

  // P05 reports true even without the keyword (only the console warns): check it here.
  const keyword = Array.isArray(pkg.keywords) && pkg.keywords.includes('node-red');
  rows.push({ id: 'keyword', ok: keyword, note: '"node-red" in keywords' });
  if (!keyword) problems.push('package.json keywords must contain "node-red" (the Flow Library hides the package otherwise)');

  // An .html node-red-dev cannot parse leaves N01/N02 passing with an empty list: compare the list.
  const reported = [...(card.N02?.nodes || [])].sort();
  const expected = [...palette].sort();
  const sameSet = reported.length === expected.length && reported.every((t, i) => t === expected[i]);
  rows.push({ id: 'N02 nodes', ok: sameSet, note: reported.join(', ') || '(none)' });
  if (!sameSet) {
    const missing = expected.filter((t) => !reported.includes(t));
    const extra = reported.filter((t) => !expected.includes(t));
    problems.push(`N02 lists [${reported.join(', ')}] but the non-config types are [${expected.join(', ')}]` +
      (missing.length ? `; not parsed or without an example: ${missing.join(', ')} (keep registerType literal, ` +
        'script tags type="text/javascript", and use each type in some examples/*.json)' : '') +
      (extra.length ? `; unexpected: ${extra.join(', ')}` : ''));
  }

  console.log(`Scorecard for ${card.package?.name}@${card.package?.version} (packed tarball, config types: ${config.join(', ') || 'none'})`);
  for (const r of rows) console.log(`  ${r.ok ? 'pass' : 'FAIL'}  ${r.id.padEnd(9)} ${r.note}`);
  if (problems.length) {
    console.error(`\nvalidate: ${problems.length} problem(s):`);
    for (const p of problems) console.error(`  - ${p}`);
    process.exit(1);
  }
  console.log(`validate: all ${rows.length} checks pass`);
}

main();
