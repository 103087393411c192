'use strict';
// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every line must be
// a HELP, a TYPE (before the family's samples) or a sample with a valid name, labels and value; it throws
// on anything else. Returns samples keyed `name{a="x",b="y"}` (labels sorted) -> value, and the types.
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\["\\n])*)"/y;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseLabels(text, line) {
  const labels = {};
  let at = 0;
  while (at < text.length) {
    LABEL.lastIndex = at;
    const m = LABEL.exec(text);
    if (!m) throw new Error(`bad labels in: ${line}`);
    labels[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\(["\\])/g, '$1');
    at = LABEL.lastIndex;
    if (text[at] === ',') at += 1;
    else if (at !== text.length) throw new Error(`bad labels in: ${line}`);
  }
  return labels;
}

const key = (name, labels) => {
  const parts = Object.keys(labels).sort().map((k) => `${k}="${labels[k]}"`);
  return parts.length ? `${name}{${parts.join(',')}}` : name;
};

function parsePrometheus(text) {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const samples = new Map();
  const types = new Map();
  const helped = new Set();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      const name = line.slice(7).split(' ')[0];
      if (!NAME.test(name) || helped.has(name)) throw new Error(`bad HELP: ${line}`);
      helped.add(name);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ');
      if (!NAME.test(name) || !TYPES.has(type) || types.has(name)) throw new Error(`bad TYPE: ${line}`);
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`bad sample: ${line}`);
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value: ${line}`);
    const family = m[1].replace(/_(bucket|sum|count|total)$/, '');
    if (!types.has(m[1]) && !types.has(family)) throw new Error(`sample before its TYPE: ${line}`);
    const k = key(m[1], parseLabels(m[2] ?? '', line));
    if (samples.has(k)) throw new Error(`duplicate sample: ${line}`);
    samples.set(k, value);
  }
  return { samples, types, value: (name, labels = {}) => samples.get(key(name, labels)) };
}

module.exports = { parsePrometheus };
