'use strict';
// Helper processes for the benchmarks (load generator, business endpoints): forked with an IPC
// channel, pinned to a CPU, driven by request/response messages with a time limit on every call.
const { fork, execFileSync } = require('node:child_process');

/** Pins every thread of `pid` to `cpu` (Linux `taskset`); false when that is not possible. */
function pin(pid, cpu) {
  if (cpu === undefined) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

class Child {
  constructor(script, { cpu } = {}) {
    this.proc = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.pinned = pin(this.proc.pid, cpu);
    this.nextId = 1;
    this.pending = new Map();
    this.proc.on('message', ({ id, ok, result, error }) => {
      const call = this.pending.get(id);
      if (!call) return;
      this.pending.delete(id);
      clearTimeout(call.timer);
      if (ok) call.resolve(result);
      else call.reject(new Error(`${script}: ${error}`));
    });
    this.proc.on('exit', (code) => {
      for (const call of this.pending.values()) {
        clearTimeout(call.timer);
        call.reject(new Error(`${script} exited (${code}) during ${call.cmd}`));
      }
      this.pending.clear();
    });
  }

  call(cmd, args = {}, timeoutMs = 120000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${cmd} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { cmd, resolve, reject, timer });
      this.proc.send({ id, cmd, args });
    });
  }

  stop() {
    if (this.proc.exitCode === null) this.proc.kill();
  }
}

/** In the child: answers the parent's calls with `handlers[cmd](args)`; exits when the parent goes. */
function serve(handlers) {
  process.on('message', async ({ id, cmd, args }) => {
    try {
      if (!handlers[cmd]) throw new Error(`unknown command ${cmd}`);
      process.send({ id, ok: true, result: await handlers[cmd](args) });
    } catch (err) {
      process.send({ id, ok: false, error: err && err.stack ? err.stack : String(err) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

module.exports = { Child, serve, pin };
