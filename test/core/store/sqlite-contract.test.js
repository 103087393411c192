'use strict';
// The store contract suite (contract.js) against the embedded back end: a real SQLite file per test.
const path = require('node:path');
const { EventStore } = require('../../../core/store/event-store');
const { SqliteHubStore } = require('../../../core/store/sqlite-hub-store');
const { tempDir } = require('../../support/temp');
const { runStoreContract } = require('./contract');

runStoreContract('sqlite', () => new SqliteHubStore(new EventStore(path.join(tempDir('store-contract-'), 'hub.sqlite'))), {
  reopen: (store) => new SqliteHubStore(new EventStore(store.path)),
});
