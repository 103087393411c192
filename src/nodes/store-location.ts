/**
 * Which store the hub uses: `dingtalkStore` in settings.js (store-settings.ts), by default the embedded
 * SQLite file at `dingtalkStorePath`, else `dingtalk-hub.sqlite` in the Node-RED user directory (beside
 * flows.json), else the system temp folder. And, when it cannot be opened or used, what to tell the user
 * to do about it. Nodes open it with openStore(); what it reports goes to the log (store-event-log.ts).
 */
import os from 'node:os';
import path from 'node:path';
import type { Node, NodeAPI } from 'node-red';
import { describeStoreFailure, nodeOfModuleVersion } from '../core/store/store-failure';
import { acquireStore, type StoreLease } from '../core/store/shared-store';
import { maskSecrets, parseStoreSetting, type StoreSetting, StoreSettingError } from '../core/store/store-settings';
import { appText } from './app-texts';
import { storeEventLog } from './store-event-log';
import { housekeepingFor } from './store-housekeeping';

export const STORE_FILE = 'dingtalk-hub.sqlite';

interface StoreSettings {
  dingtalkStore?: unknown;
  dingtalkStorePath?: unknown;
  userDir?: unknown;
}

/** The SQLite file when `dingtalkStore` names none: `dingtalkStorePath`, else the user directory's. */
export function storePath(RED: NodeAPI): string {
  const settings = RED.settings as unknown as StoreSettings;
  if (typeof settings.dingtalkStorePath === 'string' && settings.dingtalkStorePath.length > 0) return path.resolve(settings.dingtalkStorePath);
  const dir = typeof settings.userDir === 'string' && settings.userDir.length > 0 ? settings.userDir : os.tmpdir();
  return path.join(dir, STORE_FILE);
}

/** What `dingtalkStore` asks for; throws StoreSettingError when settings.js gets it wrong. */
export function storeSetting(RED: NodeAPI): StoreSetting {
  return parseStoreSetting((RED.settings as unknown as StoreSettings).dingtalkStore, storePath(RED));
}

// The advice lives once, in the dingtalk-app catalogue.
const ADVICE = appText('store');

/** The folder to run `npm rebuild better-sqlite3` in: the one whose node_modules holds it. */
function installRoot(): string {
  try {
    return path.resolve(path.dirname(require.resolve('better-sqlite3/package.json')), '..', '..');
  } catch {
    return '.';
  }
}

/**
 * Opens (or shares) the store `dingtalkStore` names for `node`: what the store reports goes to the log
 * (once per runtime, see store-event-log.ts), `onHealth` hears when a server goes down or comes back, and
 * the store's housekeeper runs while it is open. Throws when it cannot be opened (storeFailureAdvice).
 */
export function openStore(RED: NodeAPI, node: Node, onHealth?: () => void): StoreLease {
  const setting = storeSetting(RED);
  return acquireStore(setting, { ...storeEventLog(RED, node, setting), onHealth, housekeeping: housekeepingFor(RED) });
}

/** Whether the store failed because better-sqlite3's compiled module does not load here (the status says "rebuild"). */
export const needsRebuild = (err: unknown): boolean => !(err instanceof StoreSettingError) && describeStoreFailure(err).kind === 'native-module';

/** Why the store could not be opened or used, and what to do, in the runtime's language. */
export function storeFailureAdvice(RED: NodeAPI, err: unknown): string {
  if (err instanceof StoreSettingError) return RED._(`${ADVICE}.setting.${err.problem.key}`, err.problem.params);
  const { kind, detail, moduleVersions } = describeStoreFailure(err);
  if (moduleVersions) {
    // Node's first line names only the file: the versions and the Node.js they belong to say what happened.
    const builtNode = nodeOfModuleVersion(moduleVersions.built);
    return RED._(`${ADVICE}.native-module-abi`, {
      built: moduleVersions.built,
      builtNode: builtNode === undefined ? RED._(`${ADVICE}.unknown-node`) : `Node.js ${builtNode}`,
      required: moduleVersions.required,
      node: process.version,
      dir: installRoot(),
    });
  }
  let file = storePath(RED);
  try {
    const setting = storeSetting(RED);
    if (setting.module === 'sqlite') file = setting.config.path;
  } catch {
    // a wrong setting has its own advice, given when the store is opened
  }
  return RED._(`${ADVICE}.${kind}`, { detail: maskSecrets(detail), path: file, dir: installRoot(), node: process.version });
}
