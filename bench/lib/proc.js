'use strict';
// What a benchmarked process has used so far, read from /proc (Linux); undefined / NaN elsewhere.
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

/** Peak resident memory (VmHWM) of a process in bytes. */
function peakRss(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' })) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) a process has used so far, in ms. */
function cpuMs(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop().split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK; // utime, stime
  } catch {
    return NaN;
  }
}

/** The whole machine's CPU time so far (/proc/stat, in ticks): busy (all but idle and iowait) and total. */
function machineCpu() {
  try {
    const ticks = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    return { busy: total - ticks[3] - ticks[4], total }; // idle, iowait
  } catch {
    return { busy: NaN, total: NaN };
  }
}

module.exports = { peakRss, cpuMs, machineCpu };
