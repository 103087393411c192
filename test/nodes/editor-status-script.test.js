'use strict';
// resources/dingtalk-editor.js, run in a sandbox with a stand-in for the editor's RED: the translation of
// statuses published on dingtalk-hub/status/<id> (src/nodes/editor-text.ts), whichever of the two comms
// messages (the runtime's status/<id> and ours) comes first, and only for the status text it belongs to.
// The real editor runs it in test/browser/editor-language.test.js.
require('should');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');

const SCRIPT = fs.readFileSync(path.join(__dirname, '..', '..', 'resources', 'dingtalk-editor.js'), 'utf8');

/** The script in a fresh sandbox; `coreFirst`: the editor's own status handler subscribed before the script's. */
function editor({ coreFirst }) {
  const subscribers = {};
  const redrawn = [];
  const nodes = { n1: { id: 'n1', type: 'dingtalk-dispatch' } };
  const translate = (key, params = {}) => `«${key}${Object.keys(params).length ? ` ${JSON.stringify(params)}` : ''}»`;
  const RED = {
    comms: { subscribe: (topic, fn) => { (subscribers[topic] = subscribers[topic] || []).push(fn); } },
    nodes: { node: (id) => nodes[id], getType: (type) => (type.startsWith('dingtalk-') ? { _: translate } : null) },
    view: { redrawStatus: (node) => redrawn.push(node.status.text) },
    _: translate,
  };
  // The editor's handler: what red.js does with status/<id> (its key translation finds nothing here).
  const core = (topic, msg) => { const node = nodes[topic.split('/')[1]]; if (node) { node.status = msg; redrawn.push(msg.text); } };
  if (coreFirst) RED.comms.subscribe('status/#', core);
  vm.runInNewContext(SCRIPT, { window: {}, RED, console });
  if (!coreFirst) RED.comms.subscribe('status/#', core);
  const deliver = (topic, data) => {
    for (const [pattern, fns] of Object.entries(subscribers)) {
      const re = new RegExp(`^${pattern.replace(/\/#$/, '(/.*)?')}$`);
      if (re.test(topic)) fns.forEach((fn) => fn(topic, data));
    }
  };
  return { nodes, redrawn, deliver };
}

const COUNTS = { text: 'queued 0 · delivered 2 · dead 0', key: 'dingtalk-dispatch.status.counts', params: { queued: 0, delivered: 2, dead: 0 } };
const TRANSLATED = '«dingtalk-dispatch.status.counts {"queued":0,"delivered":2,"dead":0}»';

describe('editor script: statuses in the editor\'s language', function () {
  for (const coreFirst of [true, false]) {
    const order = coreFirst ? 'editor handler first' : 'script handler first';

    it(`${order}: the runtime's status, then the key + parameters`, function () {
      const e = editor({ coreFirst });
      e.deliver('status/n1', { text: COUNTS.text, fill: 'green', shape: 'dot' });
      e.nodes.n1.status.text.should.equal(COUNTS.text); // nothing published yet: the runtime's text
      e.deliver('dingtalk-hub/status/n1', COUNTS);
      e.nodes.n1.status.text.should.equal(TRANSLATED);
      e.redrawn.pop().should.equal(TRANSLATED);
    });

    it(`${order}: the key + parameters first (retained, as on a reconnect), then the runtime's status`, function () {
      const e = editor({ coreFirst });
      e.deliver('dingtalk-hub/status/n1', COUNTS);
      e.deliver('status/n1', { text: COUNTS.text, fill: 'green', shape: 'dot' });
      e.nodes.n1.status.text.should.equal(TRANSLATED);
      e.redrawn.pop().should.equal(TRANSLATED);
    });

    it(`${order}: a newer status with another text is not painted over with the last translation`, function () {
      const e = editor({ coreFirst });
      e.deliver('dingtalk-hub/status/n1', COUNTS);
      e.deliver('status/n1', { text: 'queued 1 · delivered 2 · dead 0', fill: 'green', shape: 'dot' });
      e.nodes.n1.status.text.should.equal('queued 1 · delivered 2 · dead 0');
      // a dropped status (node deleted) is forgotten
      e.deliver('dingtalk-hub/status/n1', null);
      e.deliver('status/n1', { text: COUNTS.text, fill: 'green', shape: 'dot' });
      e.nodes.n1.status.text.should.equal(COUNTS.text);
    });
  }

  it('nested texts are translated inside out; a key of another catalogue goes to RED._ with its namespace', function () {
    const e = editor({ coreFirst: true });
    const inner = { key: 'dingtalk-event-in.status.counts', params: { received: 1 } };
    e.deliver('dingtalk-hub/status/n1', { text: 'x', key: 'dingtalk-event-in.status.shared-root', params: { text: inner } });
    e.deliver('status/n1', { text: 'x' });
    e.nodes.n1.status.text.should.equal('«dingtalk-event-in.status.shared-root {"text":"«dingtalk-event-in.status.counts {\\"received\\":1}»"}»');
    const app = '@dingtalk-hub/node-red-dingtalk/dingtalk-app:dingtalk-app.errors.no-token';
    e.deliver('dingtalk-hub/status/n1', { text: 'y', key: 'dingtalk-event-in.status.app-invalid', params: { reason: { key: app } } });
    e.deliver('status/n1', { text: 'y' });
    e.nodes.n1.status.text.should.equal(`«dingtalk-event-in.status.app-invalid {"reason":"«${app}»"}»`);
  });
});
