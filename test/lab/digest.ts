import { spawn } from 'node:child_process';
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
  /** When given, directories that are mere copy-ups of this lower layer are left out. */
  lowerDir?: string,
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
  if (lowerDir !== undefined) await dropPureCopyUps(out, upperDir, lowerDir);
  return out;
}

/**
 * Writing a file copies its parent directories up into the upper layer even when the file
 * is removed again (a temp file in /tmp): such a directory, same type, mode and owner as
 * in the lower layer and not opaque, is not a change. An opaque one (removed and made
 * again: the lower's children are gone) stays.
 */
async function dropPureCopyUps(snap: Snapshot, upperDir: string, lowerDir: string): Promise<void> {
  const candidates: string[] = [];
  for (const [rel, desc] of snap) {
    if (rel === '.' || !desc.startsWith('dir ')) continue;
    try {
      const st = await lstat(join(lowerDir, rel));
      if (st.isDirectory() && desc === `dir ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`) {
        candidates.push(rel);
      }
    } catch {
      // only in the upper layer: a new directory
    }
  }
  if (candidates.length === 0) return;
  const opaque = await opaqueDirs(candidates.map((rel) => join(upperDir, rel)));
  candidates.forEach((rel, i) => {
    if (!opaque[i]) snap.delete(rel);
  });
}

// Node cannot read xattrs; python3 is on every machine that runs ansible-core, the lab's oracle.
// ENODATA (61) / ENOTSUP (95): not opaque; any other failure prints '?', which counts as opaque.
const OPAQUE_PY = `import os,sys
for p in sys.stdin.read().split(chr(0)):
    try: v = os.getxattr(p, 'trusted.overlay.opaque')
    except OSError as e: v = b'' if e.errno in (61, 95) else b'?'
    sys.stdout.write('1' if v != b'' else '0')
`;

/** Per path: opaque, or unknown (python3 missing): then it counts as a change. */
async function opaqueDirs(paths: string[]): Promise<boolean[]> {
  const answer = await new Promise<string>((resolve) => {
    const child = spawn('python3', ['-c', OPAQUE_PY], { stdio: ['pipe', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    child.once('error', () => resolve(''));
    child.once('close', () => resolve(out));
    child.stdin.on('error', () => undefined);
    child.stdin.end(paths.join('\0'));
  });
  return paths.map((_, i) => answer[i] !== '0');
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
