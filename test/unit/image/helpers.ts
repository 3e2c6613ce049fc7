import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readTreeXattrs } from '../../../src/image/xattr.js';

export const run = promisify(execFile);

export async function sh(script: string, opts: { cwd?: string } = {}): Promise<string> {
  const { stdout } = await run('sh', ['-ec', script], { maxBuffer: 64 << 20, ...opts });
  return stdout;
}

/**
 * One line per path under `root`: type, mode, owner, size, content hash or link target,
 * device numbers, xattrs, and mtime for non-directories. Two trees are equal for an image
 * when their listings are equal.
 */
export async function listTree(
  root: string,
  opts: { mtimes?: boolean; skip?: (rel: string) => boolean } = {},
): Promise<string[]> {
  const xattrs = await readTreeXattrs(root);
  const out: string[] = [];
  const inodes = new Map<string, string>();
  async function walk(rel: string): Promise<void> {
    const names = (await readdir(rel ? join(root, rel) : root)).sort();
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      if (opts.skip?.(r)) continue;
      const p = join(root, r);
      const st = await lstat(p);
      let kind = '?';
      let detail = '';
      if (st.isDirectory()) kind = 'd';
      else if (st.isSymbolicLink()) {
        kind = 'l';
        detail = await readlink(p);
      } else if (st.isFile()) {
        kind = 'f';
        detail = createHash('sha256')
          .update(await readFile(p))
          .digest('hex')
          .slice(0, 16);
        if (st.nlink > 1) {
          const key = `${st.dev}:${st.ino}`;
          const first = inodes.get(key);
          if (first) detail += ` =${first}`;
          else inodes.set(key, r);
        }
      } else if (st.isCharacterDevice()) {
        kind = 'c';
        detail = `rdev=${st.rdev}`;
      } else if (st.isBlockDevice()) {
        kind = 'b';
        detail = `rdev=${st.rdev}`;
      } else if (st.isFIFO()) kind = 'p';
      else if (st.isSocket()) kind = 's';
      const x = xattrs.get(r);
      const xs = x
        ? Object.entries(x)
            .filter(([k]) => !k.startsWith('trusted.overlay.'))
            .map(([k, v]) => `${k}=${v.toString('hex')}`)
            .sort()
            .join(',')
        : '';
      const mtime = opts.mtimes && kind !== 'd' && kind !== 'l' ? ` t=${Math.floor(st.mtimeMs / 1000)}` : '';
      out.push(
        `${r} ${kind} ${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid} ${kind === 'f' ? st.size : ''} ${detail}${xs ? ` x[${xs}]` : ''}${mtime}`,
      );
      if (kind === 'd') await walk(r);
    }
  }
  await walk('');
  return out;
}
