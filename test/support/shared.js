'use strict';
// Locates ../shared (reference material beside the clone; CI has it too) and loads its data.
const fs = require('node:fs');
const path = require('node:path');

const SHARED = path.resolve(__dirname, '..', '..', '..', 'shared');
if (!fs.existsSync(SHARED)) throw new Error(`reference folder not found at ${SHARED}`);

const readJson = (...parts) => JSON.parse(fs.readFileSync(path.join(SHARED, ...parts), 'utf8'));

/** Every decrypted fixture: [{ name, file, plaintext, payload }] for the top level and legacy/. */
function eventFixtures() {
  const out = [];
  for (const sub of ['', 'legacy']) {
    const dir = path.join(SHARED, 'fixtures', 'events', sub);
    for (const f of fs.readdirSync(dir).sort()) {
      if (!f.endsWith('.json') || f === 'index.json') continue;
      const plaintext = fs.readFileSync(path.join(dir, f), 'utf8');
      out.push({ name: path.join(sub, f), plaintext, payload: JSON.parse(plaintext) });
    }
  }
  return out;
}

module.exports = {
  SHARED,
  readJson,
  vectors: () => readJson('vectors', 'dingtalk-crypto-vectors.json').cases,
  eventFixtures,
};
