'use strict';
// A real redis-server of the test's own (Debian's `redis-server`, installed by .ci/run), never a
// system-wide one: loopback only, on a free port, its files in a temporary folder, AOF on with
// `appendfsync always` (so a restart loses nothing the server executed) and `noeviction` unless the test
// says otherwise. Stopped (SIGKILL) when the process exits if the test did not stop it.
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { tempDir } = require('./temp');
const { startOnFreePort } = require('./ports');

const BINARY = process.env.REDIS_SERVER || 'redis-server';
const running = new Set();
process.on('exit', () => {
  for (const server of running) server.child?.kill('SIGKILL');
});

class RedisServer {
  /**
   * options.config: extra `--name value` settings (e.g. { 'maxmemory-policy': 'allkeys-lru' });
   * options.dir: the folder of its files (default: a new temporary folder);
   * options.sentinel: { name, primary } runs a Sentinel watching the RedisServer `primary` instead.
   */
  constructor(options = {}) {
    this.dir = options.dir || tempDir('redis-');
    this.sentinel = options.sentinel;
    this.config = {
      appendonly: 'yes',
      appendfsync: 'always',
      save: '',
      'maxmemory-policy': 'noeviction',
      ...options.config,
    };
    this.port = undefined;
    this.child = undefined;
    this.output = '';
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts on a free port (the same port again after stop/kill, when it has one). */
  async start() {
    if (this.port) await this.spawnOn(this.port);
    else await startOnFreePort((port) => this.spawnOn(port));
    return this;
  }

  spawnOn(port) {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', this.dir, '--daemonize', 'no', '--protected-mode', 'yes'];
    let ready = /Ready to accept connections/;
    if (this.sentinel) {
      // A Sentinel rewrites its configuration file: one of its own, in its folder.
      const file = path.join(this.dir, 'sentinel.conf');
      fs.writeFileSync(file, `sentinel monitor ${this.sentinel.name} 127.0.0.1 ${this.sentinel.primary.port} 1\n`);
      args.unshift(file, '--sentinel');
      ready = /\+monitor master/;
    } else {
      for (const [name, value] of Object.entries(this.config)) args.push(`--${name}`, value);
    }
    return new Promise((resolve, reject) => {
      const child = spawn(BINARY, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      let settled = false;
      const fail = (err) => {
        if (settled) return;
        settled = true;
        running.delete(this);
        child.kill('SIGKILL');
        err.output = output;
        reject(err);
      };
      const onData = (chunk) => {
        output += chunk;
        this.output += chunk;
        if (!settled && ready.test(output)) {
          settled = true;
          this.port = port;
          this.child = child;
          resolve();
        } else if (/Address already in use|EADDRINUSE/.test(output)) {
          fail(new Error(`redis-server: port ${port} in use (EADDRINUSE)`));
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', (err) => fail(new Error(`redis-server could not be started (${BINARY}): ${err.message}; install Debian's redis-server`)));
      child.once('exit', (code, signal) => {
        running.delete(this);
        if (this.child === child) this.child = undefined;
        fail(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output.slice(-2000)}`));
      });
      running.add(this);
      setTimeout(() => fail(new Error(`redis-server not ready after 20 s:\n${output.slice(-2000)}`)), 20_000).unref();
    });
  }

  /** Ends the server with `signal` (SIGTERM: a clean shutdown; SIGKILL: a crash) and waits for it. */
  stop(signal = 'SIGTERM') {
    const child = this.child;
    if (!child) return Promise.resolve();
    return new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill(signal);
    });
  }

  kill() {
    return this.stop('SIGKILL');
  }

  /** Stops (crash by default) and starts again on the same port with the same files. */
  async restart(signal = 'SIGKILL') {
    await this.stop(signal);
    await this.start();
  }
}

/** Starts a server for a test; `options` as for RedisServer. */
async function startRedis(options) {
  return new RedisServer(options).start();
}

module.exports = { RedisServer, startRedis };
