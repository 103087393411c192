/**
 * Where the embedded store lives: `dingtalkStorePath` in settings.js, else `dingtalk-hub.sqlite` in the
 * Node-RED user directory (beside flows.json), else the system temp folder.
 */
import os from 'node:os';
import path from 'node:path';
import type { NodeAPI } from 'node-red';

export const STORE_FILE = 'dingtalk-hub.sqlite';

export function storePath(RED: NodeAPI): string {
  const settings = RED.settings as unknown as { dingtalkStorePath?: unknown; userDir?: unknown };
  if (typeof settings.dingtalkStorePath === 'string' && settings.dingtalkStorePath.length > 0) return path.resolve(settings.dingtalkStorePath);
  const dir = typeof settings.userDir === 'string' && settings.userDir.length > 0 ? settings.userDir : os.tmpdir();
  return path.join(dir, STORE_FILE);
}
