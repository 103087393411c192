/**
 * Texts that live once, in the dingtalk-app catalogue, and are used from other node files (the store's
 * advice, its file events, its housekeeping). Node-RED gives each node file its own namespace, so they
 * are named with the full one: `<package>/dingtalk-app:dingtalk-app.<key>`.
 */
import fs from 'node:fs';
import path from 'node:path';

const PACKAGE_NAME = (JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { name: string }).name;

/** The full i18n key of `key` in the catalogue of node file `type` (a key that resolves whichever module's RED asks). */
export const nodeText = (type: string, key: string) => `${PACKAGE_NAME}/${type}:${type}.${key}`;

/** The full i18n key of `key` in the dingtalk-app catalogue. */
export const appText = (key: string) => nodeText('dingtalk-app', key);
