/**
 * Why the store could not be opened or used, sorted into what the user has to do about it. The raw
 * errors say little on their own: "unable to open database file" names no file, and a native module
 * built for another Node.js (the usual state after upgrading Node) fails with a page of tried paths.
 */

export type StoreFailureKind =
  /** better-sqlite3's compiled module does not load in this Node.js: rebuild it. */
  | 'native-module'
  /** The file or its folder cannot be created, opened or written: permissions, path, disk. */
  | 'file'
  /** The file is there but is not an SQLite database, or is damaged. */
  | 'damaged'
  /** `dingtalkStore` in settings.js is wrong (StoreSettingError: its problem says what to write). */
  | 'setting'
  /** The Redis server cannot be reached, or did not answer in time (StoreUnavailableError). */
  | 'unavailable'
  /** The Redis server's settings refuse acknowledgement (StoreRefusedError). */
  | 'refused'
  | 'other';

export interface StoreFailure {
  kind: StoreFailureKind;
  /** The first line of the original message (the rest is a require stack or a list of paths). */
  detail: string;
  /**
   * A native module built for another Node.js (Node's ABI check): the NODE_MODULE_VERSION it was compiled
   * against, and the one this Node.js requires. Node puts them on the error's later lines.
   */
  moduleVersions?: { built: number; required: number };
}

/**
 * The Node.js release line of each NODE_MODULE_VERSION (Node's doc/abi_version_registry.json), to name
 * the Node.js a module was built for: numbers alone mean nothing to most users.
 */
const NODE_OF_MODULE_VERSION: Readonly<Record<number, number>> = { 93: 16, 108: 18, 115: 20, 120: 21, 127: 22, 131: 23, 137: 24, 141: 25 };

/** The Node.js major release a NODE_MODULE_VERSION belongs to, if known. */
export const nodeOfModuleVersion = (version: number): number | undefined => NODE_OF_MODULE_VERSION[version];

// Node's words: "…compiled against a different Node.js version using\nNODE_MODULE_VERSION 115. This version of
// Node.js requires\nNODE_MODULE_VERSION 137. Please try re-compiling…"
const ABI_MISMATCH = /NODE_MODULE_VERSION\s+(\d+)[\s\S]*?requires\s+NODE_MODULE_VERSION\s+(\d+)/;

const NATIVE_MODULE = /NODE_MODULE_VERSION|Could not locate the bindings file|better_sqlite3\.node|invalid ELF header|wrong ELF class/;
const FILE_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENOENT', 'ENOSPC', 'EDQUOT', 'ELOOP', 'ENAMETOOLONG']);
const FILE_SQLITE_CODES = /^SQLITE_(CANTOPEN|READONLY|PERM|FULL|IOERR|AUTH)/;
const DAMAGED_SQLITE_CODES = /^SQLITE_(NOTADB|CORRUPT)/;

export function describeStoreFailure(err: unknown): StoreFailure {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(err);
  const detail = text.split('\n', 1)[0].trim();
  const c = typeof code === 'string' ? code : '';
  if (c === 'STORE_SETTING') return { kind: 'setting', detail };
  if (c === 'STORE_UNAVAILABLE') return { kind: 'unavailable', detail };
  if (c === 'STORE_REFUSED') return { kind: 'refused', detail };
  if (c === 'ERR_DLOPEN_FAILED' || NATIVE_MODULE.test(text)) {
    const abi = ABI_MISMATCH.exec(text);
    return abi ? { kind: 'native-module', detail, moduleVersions: { built: Number(abi[1]), required: Number(abi[2]) } } : { kind: 'native-module', detail };
  }
  if (FILE_CODES.has(c) || FILE_SQLITE_CODES.test(c)) return { kind: 'file', detail };
  if (DAMAGED_SQLITE_CODES.test(c)) return { kind: 'damaged', detail };
  return { kind: 'other', detail };
}
