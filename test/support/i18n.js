'use strict';
// node-red-node-test-helper's RED._ returns the message key and drops its parameters, so a status
// "queued 3 · delivered 5" would read "dingtalk-dispatch.status.counts" whatever the numbers. This
// renders keys from the package's own en-US catalogue (nodes/locales/en-US/<node>.json), with the
// __name__ interpolation Node-RED's i18next uses, so tests assert the text a user sees.
const fs = require('node:fs');
const path = require('node:path');

const LOCALES = path.join(__dirname, '..', '..', 'nodes', 'locales', 'en-US');
const catalogues = new Map();

function catalogue(namespace) {
  if (!catalogues.has(namespace)) {
    const file = path.join(LOCALES, `${namespace}.json`);
    catalogues.set(namespace, fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {});
  }
  return catalogues.get(namespace);
}

/** RED._ as the runtime renders "node-type.a.b" for this package's nodes; an unknown key stays the key, as in the helper. */
function render(key, params = {}) {
  // "<package>/<node-file>:<key>" (a key named with its full namespace, see src/nodes/app-texts) reads the same key.
  const path = key.includes(':') ? key.slice(key.lastIndexOf(':') + 1) : key;
  const namespace = path.split('.')[0];
  const text = path.split('.').reduce((o, k) => (o && typeof o === 'object' ? o[k] : undefined), catalogue(namespace));
  if (typeof text !== 'string') return key;
  return text.replace(/__(\w+)__/g, (m, name) => (name in params ? String(params[name]) : m));
}

/** Wraps a node module so every module of the same helper.load sees RED._ = render. */
const withCatalogue = (module) => (RED) => { RED._ = render; return module(RED); };

module.exports = { render, withCatalogue };
