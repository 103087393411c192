#!/usr/bin/env node
// Cipher cost on one core: the receiver's full crypto cycle for one push (verify the signature,
// decrypt, parse, seal the encrypted "success" reply) beside the floor, a bare node:crypto AES-256-CBC
// encrypt + decrypt round trip of the same size with no DingTalk framing. Alternating rounds, median.
// Writes the "cipher" section of bench/results/latest.json; with --json prints the section instead
// (bench/run.js, which sets BENCH_PACKAGE_DIR to the installed package to measure).
//   node bench/cipher.js [rounds=7] [opsPerRound=20000] [--json]
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const JSON_ONLY = process.argv.includes('--json');
const argv = process.argv.slice(2).filter((a) => a !== '--json');
const { DingTalkCipher } = require(path.join(process.env.BENCH_PACKAGE_DIR || path.resolve(__dirname, '..'), 'core', 'cipher'));

const ROUNDS = Number(argv[0] || 7);
const OPS = Number(argv[1] || 20000);
const fixture = path.resolve(__dirname, '..', '..', 'shared', 'fixtures', 'events', 'bpms_instance_change.json');
const plaintext = fs.readFileSync(fixture, 'utf8');

const cipher = new DingTalkCipher({ token: 'benchToken2026', aesKey: 'kT7vQ2mZp9LxR4sNw8YbC3dF6gHj1KoE5uAiV0rWq3j', receiveId: 'dingbenchappkey' });
const encrypt = cipher.encrypt(plaintext);
const timestamp = '1717000000123';
const nonce = 'nEXhMP4r';
const signature = cipher.sign(timestamp, nonce, encrypt);

const key = crypto.randomBytes(32);
const iv = key.subarray(0, 16);
const block = Buffer.alloc(Math.ceil((Buffer.byteLength(plaintext) + 20 + 15) / 32) * 32, 0x61);

function fullCycle() {
  const opened = cipher.open({ signature, timestamp, nonce, encrypt });
  JSON.parse(opened.plaintext);
  cipher.seal('success', opened.receiveId);
}

function floor() {
  const c = crypto.createCipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(false);
  const enc = Buffer.concat([c.update(block), c.final()]);
  const d = crypto.createDecipheriv('aes-256-cbc', key, iv);
  d.setAutoPadding(false);
  Buffer.concat([d.update(enc), d.final()]);
}

const rate = (fn) => {
  const start = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) fn();
  return OPS / (Number(process.hrtime.bigint() - start) / 1e9);
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

rate(fullCycle);
rate(floor); // warm-up
const cycles = [];
const floors = [];
for (let r = 0; r < ROUNDS; r++) {
  cycles.push(rate(fullCycle));
  floors.push(rate(floor));
}
const opsPerSec = Math.round(median(cycles));
const floorOpsPerSec = Math.round(median(floors));
const result = { opsPerSec, floorOpsPerSec, ratioToFloor: Number((opsPerSec / floorOpsPerSec).toFixed(3)), plaintextBytes: Buffer.byteLength(plaintext) };
if (JSON_ONLY) {
  console.log(JSON.stringify(result));
  process.exit(0);
}

console.log(`cipher, ${Buffer.byteLength(plaintext)}-byte event, median of ${ROUNDS} rounds of ${OPS}:`);
console.log(`  verify + decrypt + parse + encrypted reply ${String(opsPerSec).padStart(8)} /s`);
console.log(`  floor: bare AES-256-CBC round trip          ${String(floorOpsPerSec).padStart(8)} /s`);
console.log(`  ratio to floor                              ${result.ratioToFloor.toFixed(2)}`);

const out = path.join(__dirname, 'results', 'latest.json');
fs.mkdirSync(path.dirname(out), { recursive: true });
const previous = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, 'utf8')) : {};
const os = require('node:os');
previous.cipher = result;
previous.machine = `${os.cpus().length} × ${os.cpus()[0].model}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
fs.writeFileSync(out, JSON.stringify(previous, null, 2) + '\n');
