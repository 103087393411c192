'use strict';
// `dingtalkStore` in settings.js: what opens which back end, what is refused and how the refusal is
// worded (a catalogue key and its parameters), and that no password reaches a message.
require('should');
const path = require('node:path');
const { parseStoreSetting, storeKey, maskSecrets, StoreSettingError } = require('../../../core/store/store-settings');

const DEFAULT = '/var/lib/node-red/dingtalk-hub.sqlite';

/** The problem parseStoreSetting throws for `value` (and that it is a StoreSettingError). */
function problemOf(value) {
  try {
    parseStoreSetting(value, DEFAULT);
  } catch (err) {
    err.should.be.instanceOf(StoreSettingError);
    err.code.should.equal('STORE_SETTING');
    return { problem: err.problem, message: err.message };
  }
  throw new Error(`expected ${JSON.stringify(value)} to be refused`);
}

describe('core/store/store-settings', function () {
  describe('SQLite', function () {
    it('no setting: the SQLite file at the default path (dingtalkStorePath or the user directory)', function () {
      parseStoreSetting(undefined, DEFAULT).should.eql({ module: 'sqlite', config: { path: DEFAULT } });
      parseStoreSetting(null, DEFAULT).should.eql({ module: 'sqlite', config: { path: DEFAULT } });
    });

    it('module sqlite without a path takes the default; a relative path is resolved like dingtalkStorePath', function () {
      parseStoreSetting({ module: 'sqlite' }, DEFAULT).should.eql({ module: 'sqlite', config: { path: DEFAULT } });
      parseStoreSetting({ module: 'sqlite', config: {} }, DEFAULT).config.path.should.equal(DEFAULT);
      parseStoreSetting({ module: 'sqlite', config: { path: 'data/hub.sqlite' } }, DEFAULT).config.path.should.equal(path.resolve('data/hub.sqlite'));
    });

    it('refuses a path that is not a non-empty string, and keys it does not know', function () {
      problemOf({ module: 'sqlite', config: { path: 42 } }).problem.should.eql({ key: 'string', params: { field: 'dingtalkStore.config.path', found: '42' } });
      problemOf({ module: 'sqlite', config: { path: '  ' } }).problem.key.should.equal('string');
      problemOf({ module: 'sqlite', config: { file: 'x' } }).problem.should.eql({
        key: 'unknown-key',
        params: { field: 'dingtalkStore.config', key: 'file', known: 'path' },
      });
    });
  });

  describe('Redis', function () {
    it('module redis with no config: every option at its default, durability stated as "server"', function () {
      parseStoreSetting({ module: 'redis' }, DEFAULT).should.eql({ module: 'redis', config: { durability: 'server' } });
    });

    it('keeps every option it checks', function () {
      const config = {
        url: 'rediss://hub:s3cret@redis.example:6380/2',
        prefix: 'hub-prod',
        tls: { rejectUnauthorized: true },
        durability: 'replicas:2',
        durabilityTimeoutMs: 500,
        commandTimeoutMs: 2000,
        instanceId: 'node-a',
        username: 'hub',
        password: 'pw',
      };
      parseStoreSetting({ module: 'redis', config }, DEFAULT).should.eql({ module: 'redis', config });
      const sentinel = { name: 'mymaster', sentinels: [{ host: '10.0.0.1', port: 26379 }, { host: '10.0.0.2', port: 26379 }] };
      parseStoreSetting({ module: 'redis', config: { sentinel } }, DEFAULT).config.sentinel.should.eql(sentinel);
      const cluster = { nodes: ['redis://10.0.0.1:7000', 'redis://10.0.0.2:7000'] };
      parseStoreSetting({ module: 'redis', config: { cluster, durability: 'wait-aof' } }, DEFAULT).config.should.eql({ cluster, durability: 'wait-aof' });
    });

    it('durability is server, wait-aof or replicas:N with N ≥ 1; anything else says what was found', function () {
      for (const ok of ['server', 'wait-aof', 'replicas:1', 'replicas:12']) {
        parseStoreSetting({ module: 'redis', config: { durability: ok } }, DEFAULT).config.durability.should.equal(ok);
      }
      for (const bad of ['replicas:0', 'replicas:', 'replicas:-1', 'replicas:1.5', 'replicas', 'waitaof', 'WAIT-AOF', 'always', '', 1]) {
        problemOf({ module: 'redis', config: { durability: bad } }).problem.should.eql({
          key: 'durability',
          params: { field: 'dingtalkStore.config.durability', found: String(bad) },
        });
      }
    });

    it('url must be redis:// or rediss:// with a host (and a numeric database, if any)', function () {
      for (const ok of ['redis://127.0.0.1:6379', 'rediss://h', 'redis://:pw@h:1/0', 'redis://h/']) {
        parseStoreSetting({ module: 'redis', config: { url: ok } }, DEFAULT).config.url.should.equal(ok);
      }
      for (const bad of ['http://h:6379', '127.0.0.1:6379', 'redis://', 'redis://h/db', 'valkey://h']) {
        problemOf({ module: 'redis', config: { url: bad } }).problem.should.eql({ key: 'url', params: { field: 'dingtalkStore.config.url', found: bad } });
      }
      problemOf({ module: 'redis', config: { url: 6379 } }).problem.key.should.equal('string');
    });

    it('never repeats a password: masked in urls, TLS options and unknown keys\' values not echoed', function () {
      const secret = 'Tr0ub4dor&3';
      const cases = [
        { url: `http://admin:${secret}@h:6379` },
        { url: `redis://admin:${secret}@h:6379/x` },
        { url: `redis://:${secret}@` },
        { cluster: { nodes: ['redis://h:7000', `http://:${secret}@h:7001`] } },
        { passwd: secret },
        { password: 12345, url: `redis://:${secret}@h` },
        { password: ['x', secret] },
        { tls: secret },
        { durability: `redis://:${secret}@h` },
      ];
      for (const config of cases) {
        const { problem, message } = problemOf({ module: 'redis', config });
        JSON.stringify(problem).should.not.containEql(secret);
        message.should.not.containEql(secret);
      }
      problemOf({ module: `redis://u:${secret}@h` }).message.should.not.containEql(secret);
      problemOf({ module: 'redis', config: { url: `http://admin:${secret}@h:6379` } }).problem.params.found.should.equal('http://admin:***@h:6379');
    });

    it('maskSecrets masks the password of any URL in a text and leaves the rest', function () {
      maskSecrets('redis://u:p@h:1 and rediss://:q@x').should.equal('redis://u:***@h:1 and rediss://:***@x');
      maskSecrets('redis://h:6379 prefix dthub').should.equal('redis://h:6379 prefix dthub');
      maskSecrets('redis://u:p/w@rd@h:1').should.equal('redis://u:***@h:1');
    });

    it('refuses wrong types, a prefix that would break the hash tag, and sentinel with cluster', function () {
      problemOf({ module: 'redis', config: { prefix: 'a{b}' } }).problem.should.eql({ key: 'prefix', params: { field: 'dingtalkStore.config.prefix', found: 'a{b}' } });
      problemOf({ module: 'redis', config: { prefix: '' } }).problem.key.should.equal('prefix');
      // part of key names: a ':' would make pend:<instance>:<receiver> ambiguous
      problemOf({ module: 'redis', config: { instanceId: 'node:a' } }).problem.should.eql({ key: 'instance-id', params: { field: 'dingtalkStore.config.instanceId', found: 'node:a' } });
      problemOf({ module: 'redis', config: { prefix: 'my hub' } }).problem.key.should.equal('prefix');
      problemOf({ module: 'redis', config: { tls: 'yes' } }).problem.should.eql({ key: 'tls', params: { field: 'dingtalkStore.config.tls' } });
      problemOf({ module: 'redis', config: { durabilityTimeoutMs: '1000' } }).problem.should.eql({
        key: 'number',
        params: { field: 'dingtalkStore.config.durabilityTimeoutMs', found: '1000' },
      });
      problemOf({ module: 'redis', config: { commandTimeoutMs: 0 } }).problem.key.should.equal('number');
      problemOf({ module: 'redis', config: { instanceId: '' } }).problem.key.should.equal('instance-id');
      problemOf({ module: 'redis', config: { password: 12345 } }).problem.should.eql({ key: 'string', params: { field: 'dingtalkStore.config.password', found: '***' } });
      problemOf({ module: 'redis', config: { username: 7 } }).problem.key.should.equal('string');
      problemOf({ module: 'redis', config: { sentinel: { name: 'm', sentinels: [] } } }).problem.key.should.equal('sentinels');
      problemOf({ module: 'redis', config: { sentinel: { name: 'm', sentinels: [{ host: 'h', port: '26379' }] } } }).problem.key.should.equal('sentinels');
      problemOf({ module: 'redis', config: { sentinel: { sentinels: [{ host: 'h', port: 26379 }] } } }).problem.params.field.should.equal('dingtalkStore.config.sentinel.name');
      problemOf({ module: 'redis', config: { cluster: { nodes: [] } } }).problem.key.should.equal('nodes');
      problemOf({ module: 'redis', config: { cluster: { nodes: ['redis://h:1', 'h:2'] } } }).problem.params.field.should.equal('dingtalkStore.config.cluster.nodes[1]');
      problemOf({ module: 'redis', config: { sentinel: { name: 'm', sentinels: [{ host: 'h', port: 1 }] }, cluster: { nodes: ['redis://h:1'] } } }).problem.key.should.equal('sentinel-and-cluster');
      problemOf({ module: 'redis', config: 'redis://h:6379' }).problem.should.eql({
        key: 'not-object',
        params: { field: 'dingtalkStore.config', found: 'redis://h:6379', known: 'url, username, password, prefix, tls, durability, durabilityTimeoutMs, commandTimeoutMs, instanceId, sentinel, cluster' },
      });
    });

    it('a misspelt option is refused, not ignored (a typo in durability must not mean "server")', function () {
      problemOf({ module: 'redis', config: { durabilty: 'wait-aof' } }).problem.should.containEql({ key: 'unknown-key' });
      problemOf({ module: 'redis', config: { durabilty: 'wait-aof' } }).problem.params.key.should.equal('durabilty');
    });
  });

  describe('the setting itself', function () {
    it('must be an object with a known module and no other keys', function () {
      problemOf('redis').problem.should.eql({ key: 'not-object', params: { field: 'dingtalkStore', found: 'redis', known: 'module, config' } });
      problemOf([]).problem.params.found.should.equal('a list');
      problemOf({}).problem.should.eql({ key: 'module', params: { field: 'dingtalkStore.module', found: 'undefined', known: 'sqlite, redis' } });
      problemOf({ module: 'mongodb' }).problem.params.found.should.equal('mongodb');
      problemOf({ module: 'Redis' }).problem.key.should.equal('module');
      problemOf({ module: 'redis', url: 'redis://h' }).problem.should.eql({ key: 'unknown-key', params: { field: 'dingtalkStore', key: 'url', known: 'module, config' } });
    });
  });

  describe('storeKey', function () {
    it('one key per file, and per Redis configuration whatever the order of its options', function () {
      storeKey(parseStoreSetting(undefined, DEFAULT)).should.equal(storeKey(parseStoreSetting({ module: 'sqlite', config: { path: DEFAULT } }, DEFAULT)));
      storeKey(parseStoreSetting(undefined, DEFAULT)).should.not.equal(storeKey(parseStoreSetting(undefined, `${DEFAULT}2`)));
      const a = parseStoreSetting({ module: 'redis', config: { url: 'redis://h:1', prefix: 'p' } }, DEFAULT);
      const b = parseStoreSetting({ module: 'redis', config: { prefix: 'p', url: 'redis://h:1' } }, DEFAULT);
      storeKey(a).should.equal(storeKey(b));
      storeKey(a).should.not.equal(storeKey(parseStoreSetting({ module: 'redis', config: { url: 'redis://h:1', prefix: 'q' } }, DEFAULT)));
      const s1 = parseStoreSetting({ module: 'redis', config: { sentinel: { name: 'm', sentinels: [{ host: 'h', port: 1 }] } } }, DEFAULT);
      const s2 = parseStoreSetting({ module: 'redis', config: { sentinel: { name: 'n', sentinels: [{ host: 'h', port: 1 }] } } }, DEFAULT);
      storeKey(s1).should.not.equal(storeKey(s2));
    });
  });
});
