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

  it('no two examples and the npm start demo share a receiver path', function () {
    // Users import several examples into one workspace, often into the npm start demo: a shared path would
    // leave one receiver inactive (and the editor marks it invalid).
    const { normalisePath } = require('../core/http/route-table');
    const owners = new Map();
    const claim = (p, owner) => {
      const key = normalisePath(p);
      should.not.exist(owners.get(key), `${owner} and ${owners.get(key)} both receive on ${key}`);
      owners.set(key, owner);
    };
    for (const { file, nodes } of examples) {
      for (const n of nodes.filter((x) => x.type === 'dingtalk-event-in')) claim(n.url || '/dingtalk/events', file);
    }
    owners.size.should.be.aboveOrEqual(4);
    // The demo deploys the example scripts/start.js names, with its receiver moved to DEMO_PATH.
    const start = fs.readFileSync(path.join(ROOT, 'scripts', 'start.js'), 'utf8');
    const demoFile = /path\.join\(root, 'examples', '([^']+)'\)/.exec(start)[1];
    examples.map((e) => e.file).should.containEql(demoFile);
    const demoPath = /const DEMO_PATH = '([^']+)'/.exec(start)?.[1];
    should.exist(demoPath, 'scripts/start.js names no DEMO_PATH');
    /receiver\.url = DEMO_PATH;/.test(start).should.be.true('scripts/start.js does not give the demo receiver DEMO_PATH');
    claim(demoPath, 'the npm start demo');
  });

  it('each example is one named tab holding all its flow nodes (config nodes stay global)', function () {
    for (const { file, nodes } of examples) {
      const tabs = nodes.filter((n) => n.type === 'tab');
      tabs.length.should.equal(1, `${file}: ${tabs.length} tabs`);
      const [tab] = tabs;
      (tab.label || '').trim().should.not.be.empty(`${file}: the tab has no name`);
      tab.label.should.match(CHINESE, `${file}: the tab name has no Chinese`);
      tab.label.should.match(/[A-Za-z]{3,}/, `${file}: the tab name has no English`);
      for (const n of nodes.filter((x) => x.type !== 'tab')) {
        if (configTypes.includes(n.type)) should.not.exist(n.z, `${file}: config node ${n.id} is on a tab`);
        else should(n.z).equal(tab.id, `${file}: ${n.type} ${n.id} is not on the example's tab`);
      }
    }
  });

  it('the examples\' tab names are all different', function () {
    const labels = examples.map(({ nodes }) => nodes.find((n) => n.type === 'tab')?.label);
    new Set(labels).size.should.equal(labels.length, labels.join(' | '));
  });
});
