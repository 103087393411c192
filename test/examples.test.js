'use strict';
// The example flows users import from the palette: each explains itself in both languages, together
// they use every node this package offers, and none carries a secret.
const should = require('should');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const DIR = path.join(ROOT, 'examples');
const pkg = require('../package.json');
const ours = Object.keys(pkg['node-red'].nodes);
const configTypes = ours.filter((t) => /category:\s*'config'/.test(fs.readFileSync(path.join(ROOT, 'nodes', `${t}.html`), 'utf8')));
const CHINESE = /[\u4e00-\u9fff]/;
const LATIN_WORDS = /[A-Za-z]{3,}\s+[A-Za-z]{3,}/;

const examples = fs.readdirSync(DIR).filter((f) => f.endsWith('.json'))
  .map((file) => ({ file, nodes: JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')) }));

describe('example flows', function () {
  it('there are examples, each a flow array', function () {
    examples.length.should.be.aboveOrEqual(6);
    for (const { file, nodes } of examples) Array.isArray(nodes).should.be.true(file);
  });

  it('every non-config node type appears in at least one example', function () {
    const used = new Set(examples.flatMap(({ nodes }) => nodes.map((n) => n.type)));
    configTypes.should.eql(['dingtalk-app']);
    for (const type of ours.filter((t) => !configTypes.includes(t))) used.has(type).should.be.true(`${type} is in no example`);
  });

  it('each example has a comment node explaining it in English and Chinese', function () {
    for (const { file, nodes } of examples) {
      const comments = nodes.filter((n) => n.type === 'comment');
      comments.length.should.be.above(0, `${file} has no comment node`);
      const main = comments[0];
      main.name.should.match(CHINESE, `${file}: the comment title has no Chinese`);
      main.name.should.match(/[A-Za-z]{3,}/, `${file}: the comment title has no English`);
      for (const c of comments) {
        (c.info || '').should.match(CHINESE, `${file}: comment "${c.name}" explains nothing in Chinese`);
        (c.info || '').should.match(LATIN_WORDS, `${file}: comment "${c.name}" explains nothing in English`);
      }
    }
  });

  it('no example carries credentials or secret-looking values', function () {
    for (const { file, nodes } of examples) {
      for (const node of nodes) {
        should.not.exist(node.credentials, `${file}: ${node.type} ${node.id} has credentials`);
        for (const key of ['token', 'aesKey', 'appSecret', 'secret', 'password']) {
          should.not.exist(node[key], `${file}: ${node.type} ${node.id} has a ${key} property`);
        }
      }
      const text = JSON.stringify(nodes);
      text.should.not.match(/[A-Za-z0-9]{43}/, `${file}: something the length of an aesKey`);
      text.should.not.match(/whsec_[A-Za-z0-9+/=]{16,}/, `${file}: a webhook signing secret`);
    }
  });

  it('within an example, every receiver has its own path and every node id is unique', function () {
    for (const { file, nodes } of examples) {
      const ids = nodes.map((n) => n.id);
      new Set(ids).size.should.equal(ids.length, `${file}: duplicate node ids`);
      const paths = nodes.filter((n) => n.type === 'dingtalk-event-in').map((n) => n.url);
      new Set(paths).size.should.equal(paths.length, `${file}: two receivers on one path`);
    }
  });

  it('every receiver of every example has a path of its own, and none but the demo\'s own example uses the npm start demo\'s', function () {
    // Users import several examples into one workspace, often the npm start demo's: a shared path would
    // leave one receiver inactive (and the editor marks it invalid).
    const { normalisePath } = require('../core/http/route-table');
    const owners = new Map();
    for (const { file, nodes } of examples) {
      for (const n of nodes.filter((x) => x.type === 'dingtalk-event-in')) {
        const p = normalisePath(n.url || '/dingtalk/events');
        should.not.exist(owners.get(p), `${file} and ${owners.get(p)} both receive on ${p}`);
        owners.set(p, file);
      }
    }
    owners.size.should.be.aboveOrEqual(4);
    // The demo deploys the first receiver of the example file scripts/start.js names.
    const start = fs.readFileSync(path.join(ROOT, 'scripts', 'start.js'), 'utf8');
    const demoFile = /path\.join\(root, 'examples', '([^']+)'\)/.exec(start)[1];
    const demoReceiver = JSON.parse(fs.readFileSync(path.join(DIR, demoFile), 'utf8')).find((n) => n.type === 'dingtalk-event-in');
    const demoPath = normalisePath(demoReceiver.url);
    demoPath.should.equal('/dingtalk/events');
    owners.get(demoPath).should.equal(demoFile);
  });
});
