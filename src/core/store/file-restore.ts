/**
 * Putting the store's data back at its path after the file was deleted or replaced while open, from the
 * connection that still holds it. Three steps, so that the caller can close its connection between the
 * second and the third:
 *
 * 1. copyLiveDatabase: a consistent copy of everything the connection sees (main file and WAL) into a
 *    new file beside the path, flushed to the disk.
 * 2. moveForeignAside: whatever now lies at the path (or at its -wal/-shm names) that is not ours is
 *    renamed `<path>.replaced-<time>[-wal|-shm]`, never deleted. This must come before the connection
 *    closes: SQLite deletes `<path>-wal` and `<path>-shm` by name when its last connection closes.
 * 3. placeCopy: our own leftover -wal/-shm go (a WAL left beside a new main file would be replayed into
 *    it: its frames do not name the file they belong to), then the copy is renamed onto the path.
 */
import type Database from 'better-sqlite3';
import fs from 'node:fs';
import { dirname } from 'node:path';
import { identify, sameFile, type FileIdentity } from './file-identity';

export const SIBLINGS = ['-wal', '-shm'] as const;
export type Sibling = (typeof SIBLINGS)[number];

/** The identities of the store's files as its connection opened them. */
export interface StoreFileIds {
  main: FileIdentity;
  '-wal'?: FileIdentity;
  '-shm'?: FileIdentity;
}

/** Step 1: returns the path of the copy. Nothing at `path` is touched. */
export function copyLiveDatabase(db: Database.Database, path: string): string {
  fs.mkdirSync(dirname(path), { recursive: true }); // the whole folder may have gone
  const copy = `${path}.restoring-${process.pid}`;
  discard(copy); // a previous attempt's: VACUUM INTO wants a new file
  try {
    // A read transaction through the open connection: sees every committed write, WAL included, and
    // writes an ordinary database (rowids and AUTOINCREMENT counters kept). Synchronous, so no write
    // can slip in between the copy and the close that follows it.
    db.prepare('VACUUM INTO ?').run(copy);
    fsyncPath(copy); // VACUUM INTO does not flush its output
  } catch (err) {
    discard(copy);
    throw err;
  }
  return copy;
}

/**
 * Step 2: renames what is at `path` and its siblings, when it is not ours, to `<path>.replaced-<time>…`
 * (a foreign main file keeps its own -wal/-shm beside it). Returns the new names.
 */
export function moveForeignAside(path: string, ours: StoreFileIds, time = new Date()): string[] {
  const foreign: string[] = [];
  const main = identify(path);
  if (main !== undefined && !sameFile(main, ours.main)) foreign.push('');
  for (const sibling of SIBLINGS) {
    const id = identify(path + sibling);
    if (id !== undefined && !sameFile(id, ours[sibling])) foreign.push(sibling);
  }
  if (foreign.length === 0) return [];
  const aside = freeName(`${path}.replaced-${stamp(time)}`);
  const moved: string[] = [];
  for (const suffix of foreign) {
    fs.renameSync(path + suffix, aside + suffix);
    moved.push(aside + suffix);
  }
  fsyncPath(dirname(path));
  return moved;
}

/** Step 3, once the connection is closed: removes stale siblings and renames the copy onto `path`. */
export function placeCopy(copy: string, path: string): void {
  for (const sibling of SIBLINGS) fs.rmSync(path + sibling, { force: true });
  fs.renameSync(copy, path);
  fsyncPath(dirname(path)); // the rename and the removals survive a power cut
}

export function discard(copy: string): void {
  for (const suffix of ['', '-journal']) {
    try {
      fs.rmSync(copy + suffix, { force: true });
    } catch {
      // best effort: a leftover copy is replaced by the next attempt
    }
  }
}

function fsyncPath(path: string): void {
  const fd = fs.openSync(path, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** 2025-01-31T08-15-00-123Z: sortable, and valid in a Windows file name. */
function stamp(time: Date): string {
  return time.toISOString().replace(/[:.]/g, '-');
}

function freeName(base: string): string {
  const taken = (name: string) => ['', ...SIBLINGS].some((s) => fs.existsSync(name + s));
  let name = base;
  for (let n = 2; taken(name); n += 1) name = `${base}-${n}`;
  return name;
}
