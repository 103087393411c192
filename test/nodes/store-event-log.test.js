'use strict';
// What the store reports, as the node that hears it logs it (en-US catalogue): the Redis server reached,
// lost, refusing; once per runtime and change of state, not again when a deploy reopens the store. The
// zh-CN catalogue has every key the en-US one has.
require('should');
const fs = require('node:fs');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const { storeEventLog } = require('../../nodes/store-event-log');
const { render } = require('../support/i18n');

const runtime = () => ({ _: render, events: new EventEmitter() });
const loggingNode = () => {
  const lines = [];
  return { lines, log: (t) => lines.push(['log', t]), warn: (t) => lines.push(['warn', t]), error: (t) => lines.push(['error', t]) };
};
const redis = (durability = 'server') => ({ module: 'redis', config: { durability } });
const TARGET = 'redis://10.0.0.5:6379 prefix dthub';
const up = (info) => ({ kind: 'redis-up', target: TARGET, info, message: '' });
const down = (error) => ({ kind: 'redis-down', target: TARGET, error, message: '' });
const ALWAYS = { version: '7.0.15', appendonly: 'yes', appendfsync: 'always', maxmemoryPolicy: 'noeviction' };

describe('store event log', function () {
  it('redis-up: version, appendonly, appendfsync, maxmemory-policy and durability, once per runtime', function () {
    const RED = runtime();
    const node = loggingNode();
    storeEventLog(RED, node, redis()).onEvent(up(ALWAYS));
    node.lines.should.have.length(1);
    node.lines[0][0].should.equal('log');
    for (const part of ['7.0.15', TARGET, 'appendonly yes', 'appendfsync always', 'maxmemory-policy noeviction', "durability 'server'"]) node.lines[0][1].should.containEql(part);
    // A deploy reopened the store (another node heard it): nothing new to say.
    const other = loggingNode();
    storeEventLog(RED, other, redis()).onEvent(up(ALWAYS));
    other.lines.should.eql([]);
    // Another runtime has said nothing yet.
    const elsewhere = loggingNode();
    storeEventLog(runtime(), elsewhere, redis()).onEvent(up(ALWAYS));
    elsewhere.lines.should.have.length(1);
  });

  it("durability 'server' with appendfsync everysec warns of the second a crash may lose; not with always or wait-aof", function () {
    const node = loggingNode();
    storeEventLog(runtime(), node, redis()).onEvent(up({ ...ALWAYS, appendfsync: 'everysec' }));
    node.lines.map(([level]) => level).should.eql(['log', 'warn']);
    node.lines[1][1].should.containEql('appendfsync everysec').and.containEql('may lose up to about a second of acknowledged events on a server crash');
    const waitAof = loggingNode();
    storeEventLog(runtime(), waitAof, redis('wait-aof')).onEvent(up({ ...ALWAYS, appendfsync: 'everysec' }));
    waitAof.lines.map(([level]) => level).should.eql(['log']);
    const unknown = loggingNode();
    storeEventLog(runtime(), unknown, redis()).onEvent(up({ version: '7.0.15', maxmemoryPolicy: 'noeviction' }));
    unknown.lines[0][1].should.containEql('appendfsync unknown');
    unknown.lines[1][1].should.containEql("durability 'replicas:1'");
    const noAof = loggingNode();
    storeEventLog(runtime(), noAof, redis()).onEvent(up({ ...ALWAYS, appendonly: 'no' }));
    noAof.lines[1].should.eql(['warn', noAof.lines[1][1]]);
    noAof.lines[1][1].should.containEql('appendonly no');
  });

  it('redis-down warns once per spell (a reopened store losing it again says nothing); back up says so, without repeating the warning', function () {
    const RED = runtime();
    const node = loggingNode();
    const log = storeEventLog(RED, node, redis()).onEvent;
    log(up({ ...ALWAYS, appendfsync: 'everysec' }));
    log(down('connect ECONNREFUSED 10.0.0.5:6379'));
    storeEventLog(RED, node, redis()).onEvent(down('connect ECONNREFUSED 10.0.0.5:6379'));
    log(up({ ...ALWAYS, appendfsync: 'everysec' }));
    node.lines.map(([level]) => level).should.eql(['log', 'warn', 'warn', 'log']);
    node.lines[2][1].should.containEql('cannot be reached (connect ECONNREFUSED 10.0.0.5:6379)').and.containEql('503');
    node.lines[3][1].should.containEql('usable again');
    // A failover to a server that persists differently is worth saying again.
    log(down('gone'));
    log(up({ ...ALWAYS, appendonly: 'no' }));
    node.lines.slice(4).map(([level]) => level).should.eql(['warn', 'log', 'warn']);
  });

  it('redis-refused is an error saying what to change, once per reason', function () {
    const RED = runtime();
    const node = loggingNode();
    const log = storeEventLog(RED, node, redis('wait-aof')).onEvent;
    const refused = (reason, detail) => ({ kind: 'redis-refused', target: TARGET, reason, detail, message: detail });
    log(refused('eviction', 'maxmemory-policy is allkeys-lru'));
    log(refused('eviction', 'maxmemory-policy is allkeys-lru'));
    log(refused('durability', 'this server is 7.0.15'));
    node.lines.map(([level]) => level).should.eql(['error', 'error']);
    node.lines[0][1].should.containEql('CONFIG SET maxmemory-policy noeviction').and.containEql('allkeys-lru');
    node.lines[1][1].should.containEql("durability 'wait-aof'").and.containEql('7.2');
  });

  it('SQLite file events are logged as before', function () {
    const node = loggingNode();
    storeEventLog(runtime(), node, { module: 'sqlite', config: { path: '/x/hub.sqlite' } }).onEvent({ kind: 'restored', path: '/x/hub.sqlite', movedAside: [], message: '' });
    node.lines.should.eql([['log', render('dingtalk-app.store-file.restored', { path: '/x/hub.sqlite' })]]);
    node.lines[0][1].should.containEql('/x/hub.sqlite');
  });

  it('zh-CN has every text en-US has for the store', function () {
    const keys = (o, prefix = '') => Object.entries(o).flatMap(([k, v]) => (typeof v === 'object' ? keys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
    const read = (lang) => JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'nodes', 'locales', lang, 'dingtalk-app.json'), 'utf8'))['dingtalk-app'];
    const [en, zh] = [read('en-US'), read('zh-CN')];
    for (const part of ['store', 'store-redis']) keys(zh[part]).should.eql(keys(en[part]));
  });
});
