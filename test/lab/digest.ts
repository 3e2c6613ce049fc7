import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Files sshd (and login bookkeeping) write on every login: not changes made by a run.
 * Paths are relative to the upper dir.
 */
export const LOGIN_NOISE = ['var/log/wtmp', 'var/log/btmp', 'var/log/lastlog'];

/** path -> "type mode uid:gid payload" for every entry of an upper dir. */
export type Snapshot = Map<string, string>;

/**
 * Describes every entry of an overlay upper dir: type, mode, owner and content hash (files),
 * link target (symlinks) or device number (whiteouts are 0:0 char devices), so deletions
 * count as changes too. Modification times are left out: they change without content.
 */
export async function snapshotDir(
  upperDir: string,
  exclude: readonly string[] = LOGIN_NOISE,
): Promise<Snapshot> {
  const out: Snapshot = new Map();
  const skip = new Set(exclude.map((p) => p.replace(/^\/+/, '')));
  const walk = async (rel: string): Promise<void> => {
    const abs = rel === '' ? upperDir : join(upperDir, rel);
    const st = await lstat(abs);
    const head = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
    if (st.isDirectory()) {
      out.set(rel || '.', `dir ${head}`);
      const entries: Dirent[] = await readdir(abs, { withFileTypes: true });
      for (const e of entries) {
        const child = rel === '' ? e.name : `${rel}/${e.name}`;
        if (!skip.has(child)) await walk(child);
      }
    } else if (st.isSymbolicLink()) {
      out.set(rel, `link ${head} ${await readlink(abs)}`);
    } else if (st.isFile()) {
      const sum = createHash('sha256')
        .update(await readFile(abs))
        .digest('hex');
      out.set(rel, `file ${head} ${sum}`);
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      out.set(rel, `${st.isCharacterDevice() ? 'chr' : 'blk'} ${head} ${st.rdev}`);
    } else {
      out.set(rel, `other ${head}`);
    }
  };
  await walk('');
  return out;
}

export function digestOf(snapshot: Snapshot): string {
  const h = createHash('sha256');
  for (const key of [...snapshot.keys()].sort()) h.update(`${key}\0${snapshot.get(key)}\n`);
  return h.digest('hex');
}

export interface SnapshotDiff {
  added: string[];
  removed: string[];
  changed: string[];
}

/** What differs between two snapshots: for test failure messages. */
export function diffSnapshots(before: Snapshot, after: Snapshot): SnapshotDiff {
  const added = [...after.keys()].filter((k) => !before.has(k)).sort();
  const removed = [...before.keys()].filter((k) => !after.has(k)).sort();
  const changed = [...after.keys()].filter((k) => before.has(k) && before.get(k) !== after.get(k)).sort();
  return { added, removed, changed };
}
