'use strict';
// What the editor sees of a real Node-RED process over its comms channel.
const WebSocket = require('ws');
const { waitFor } = require('./node-red-process');

/** The nodes' current status texts, from the editor's comms channel (Node-RED retains them). */
async function statuses(red, ids) {
  const ws = new WebSocket(`ws://127.0.0.1:${red.port}${red.adminBase.replace(/^http:\/\/[^/]+/, '')}/comms`);
  const seen = {};
  try {
    await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
    ws.on('message', (data) => {
      for (const m of [].concat(JSON.parse(String(data)))) {
        const id = /^status\/(.+)$/.exec(m.topic ?? '')?.[1];
        if (id) seen[id] = m.data?.text ?? '';
      }
    });
    ws.send(JSON.stringify({ subscribe: 'status/#' }));
    await waitFor('the nodes\' status', () => ids.every((id) => seen[id] !== undefined), 10000);
    return seen;
  } finally {
    ws.close();
  }
}

module.exports = { statuses };
