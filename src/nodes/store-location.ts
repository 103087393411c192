/**
 * Where the embedded store lives: `dingtalkStorePath` in settings.js, else `dingtalk-hub.sqlite` in the
 * Node-RED user directory (beside flows.json), else the system temp folder. And, when it cannot be
 * opened, what to tell the user to do about it; when its file is lost while open, what to log. Nodes open
 * it with openStore().
 */
import os from 'node:os';
import path from 'node:path';
import type { Node, NodeAPI } from 'node-red';
import type { StoreEvent } from '../core/store/file-recovery';
import { describeStoreFailure } from '../core/store/store-failure';
import { acquireStore, type StoreLease } from '../core/store/shared-store';
import { appText } from './app-texts';
import { housekeepingFor } from './store-housekeeping';

export const STORE_FILE = 'dingtalk-hub.sqlite';

export function storePath(RED: NodeAPI): string {
  const settings = RED.settings as unknown as { dingtalkStorePath?: unknown; userDir?: unknown };
  if (typeof settings.dingtalkStorePath === 'string' && settings.dingtalkStorePath.length > 0) return path.resolve(settings.dingtalkStorePath);
  const dir = typeof settings.userDir === 'string' && settings.userDir.length > 0 ? settings.userDir : os.tmpdir();
  return path.join(dir, STORE_FILE);
}

// The advice lives once, in the dingtalk-app catalogue.
const ADVICE = appText('store');
const FILE_EVENTS = appText('store-file');

/** The folder to run `npm rebuild better-sqlite3` in: the one whose node_modules holds it. */
function installRoot(): string {
  try {
    return path.resolve(path.dirname(require.resolve('better-sqlite3/package.json')), '..', '..');
  } catch {
    return '.';
  }
}

/**
 * Opens (or shares) the store at storePath(RED) for `node`: what the store reports about its file goes to
 * the node's log, and the store's housekeeper runs while it is open.
 */
export function openStore(RED: NodeAPI, node: Node): StoreLease {
  return acquireStore(storePath(RED), { ...storeFileLog(RED, node), housekeeping: housekeepingFor(RED) });
}

/** Why the store at storePath(RED) could not be opened and what to do, in the runtime's language. */
export function storeFailureAdvice(RED: NodeAPI, err: unknown): string {
  const { kind, detail } = describeStoreFailure(err);
  return RED._(`${ADVICE}.${kind}`, { detail, path: storePath(RED), dir: installRoot(), node: process.version });
}

/** What the store reports about its file (deleted, replaced, restored), in the node's log, in the runtime's language. */
export function storeFileLog(RED: NodeAPI, node: Node): { onEvent: (event: StoreEvent) => void } {
  return {
    onEvent(event) {
      if (event.kind === 'file-lost') node.warn(RED._(`${FILE_EVENTS}.${event.state}`, { file: event.file, path: event.path }));
      else if (event.kind === 'restore-failed') node.warn(RED._(`${FILE_EVENTS}.restore-failed`, { path: event.path, error: event.error }));
      else if (event.movedAside.length > 0) node.log(RED._(`${FILE_EVENTS}.restored-aside`, { path: event.path, aside: event.movedAside.join(', ') }));
      else node.log(RED._(`${FILE_EVENTS}.restored`, { path: event.path }));
    },
  };
}
