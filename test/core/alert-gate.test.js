'use strict';
// Rate limit of alerts (core/alert-gate.ts): the first of a key at once, the rest of its window together.
require('should');
const { AlertGate } = require('../../core/alert-gate');
const { waitFor } = require('../support/wait');

describe('AlertGate', function () {
  it('raises the first at once, holds the rest of the window and raises them once with their count', async function () {
    const raised = [];
    const gate = new AlertGate((key, latest, count) => raised.push({ key, latest, count }), 150);
    gate.offer('bad-signature', 1);
    gate.offer('bad-signature', 2);
    gate.offer('bad-signature', 3);
    gate.offer('too-large', 'x');
    raised.should.eql([{ key: 'bad-signature', latest: 1, count: 1 }, { key: 'too-large', latest: 'x', count: 1 }]);
    await waitFor(() => raised.length === 3, { what: 'the held alerts', timeout: 2000 });
    raised[2].should.eql({ key: 'bad-signature', latest: 3, count: 2 });
    await new Promise((r) => setTimeout(r, 200));
    raised.length.should.equal(3); // nothing more held
    gate.offer('bad-signature', 4); // quiet for a window: at once again
    raised[3].should.eql({ key: 'bad-signature', latest: 4, count: 1 });
    gate.close();
  });

  it('drops what it holds when closed, and a failing raise does not throw at the caller', async function () {
    let calls = 0;
    const gate = new AlertGate(() => { calls += 1; throw new Error('no'); }, 50);
    gate.offer('k', 1);
    gate.offer('k', 2);
    gate.close();
    await new Promise((r) => setTimeout(r, 120));
    calls.should.equal(1);
  });
});
