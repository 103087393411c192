'use strict';
// Renders message keys through the package's real en-US catalogues, the way Node-RED's i18n does
// (__name__ placeholders, no HTML escaping), so tests see the log lines users see.
const fs = require('node:fs');
const path = require('node:path');

const DIR = path.join(__dirname, '..', '..', 'nodes', 'locales', 'en-US');
const catalogue = Object.assign({}, ...fs.readdirSync(DIR).filter((f) => f.endsWith('.json'))
  .map((f) => JSON.parse(fs.readFileSync(path.join(DIR, f), 'utf8'))));

function lookup(key) {
  return key.split('.').reduce((node, part) => (node && typeof node === 'object' ? node[part] : undefined), catalogue);
}

/** RED._ with the en-US texts: unknown keys come back as the key, like i18next. */
function renderEnglish(key, params = {}) {
  const text = lookup(key);
  if (typeof text !== 'string') return key;
  return text.replace(/__(\w+)__/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

module.exports = { renderEnglish };
