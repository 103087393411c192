/**
 * Which file a path names. An open SQLite connection keeps writing into the file it opened even after
 * that file was deleted or another file was moved to its path; nothing in SQLite says so. Comparing the
 * device and inode recorded at open with what the path names now tells whether the connection still
 * writes into the file a restart would read.
 */
import fs from 'node:fs';

export interface FileIdentity {
  dev: bigint;
  ino: bigint;
}

/** 'same': the path names the recorded file; 'deleted': nothing there; 'replaced': another file. */
export type FileState = 'same' | 'deleted' | 'replaced';

/** The identity of the file at `path`, undefined when there is none. */
export function identify(path: string): FileIdentity | undefined {
  try {
    // bigint: inode numbers of some file systems (network, overlay) do not fit a double.
    const { dev, ino } = fs.statSync(path, { bigint: true });
    return { dev, ino };
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

export function sameFile(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/**
 * What `path` names now compared with `recorded`. Errors other than "not there" (a folder that denies
 * stat) are thrown: they prove nothing either way.
 */
export function fileState(path: string, recorded: FileIdentity): FileState {
  const now = identify(path);
  if (now === undefined) return 'deleted';
  return sameFile(now, recorded) ? 'same' : 'replaced';
}

/** ENOENT, or ENOTDIR when a folder on the way was replaced by a file. */
function isMissing(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
