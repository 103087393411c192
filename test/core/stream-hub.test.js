'use strict';
// The per-app Stream hub: what happens to an event stored while a deploy replaces the app's
// stream-in nodes (no listener for a moment). It was acknowledged, so DingTalk will not send it again.
require('should');
const { StreamHub } = require('../../core/stream/hub');
const { startFakeGateway, frame, until } = require('../support/fake-gateway');

describe('core/stream hub', function () {
  let gateway;
  let hub;
  beforeEach(async () => { gateway = await startFakeGateway({ dingapphub: 'hub-secret' }); });
  afterEach(async () => { await gateway.close(); });

  it('an event stored while no node listens is held, and emitted to the nodes present once the flows start', async function () {
    let release;
    const storing = new Promise((r) => { release = r; });
    let intakes = 0;
    hub = new StreamHub({ clientId: 'dingapphub', clientSecret: 'hub-secret', apiUrl: gateway.url }, async () => {
      intakes += 1;
      await storing; // the store is slow to answer…
      return 'new';
    });
    const before = [];
    const old = { onEvent: (m) => before.push(m), onState: () => {} };
    hub.add(old);
    await until('connected', () => gateway.open('dingapphub').length === 1);
    gateway.send(gateway.current('dingapphub'), frame('user_add_org.json'));
    await until('storing', () => intakes === 1);
    await hub.remove(old); // …and a deploy closes the stream-in node meanwhile
    release();
    await new Promise((r) => setTimeout(r, 50));
    before.length.should.equal(0);
    const after = [];
    const replacement = { onEvent: (m) => after.push(m), onState: () => {} };
    hub.add(replacement);
    hub.flushHeld(); // the app node calls this on flows:started
    after.map((m) => m.topic).should.eql(['user_add_org']);
    hub.flushHeld();
    after.length.should.equal(1); // once
    await hub.remove(replacement);
  });
});
