/**
 * Controller-side file access for modules: Ansible's search path (the role's files/ or
 * templates/, the task file's dir, the playbook dir), with vault-encrypted files
 * decrypted transparently.
 */
import { existsSync, statSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative } from 'node:path';
import type { ControllerFiles } from '../../modules/types.js';

export type DecryptFile = (data: Buffer, where: string) => Buffer;

/** The first of DIR/KIND/PATH, DIR/PATH over the search path that `accept`s (default: exists). */
export function findInSearchPath(
  searchPath: string[],
  kind: string,
  path: string,
  accept: (candidate: string) => boolean = existsSync,
): string | undefined {
  if (isAbsolute(path)) return accept(path) ? path : undefined;
  for (const dir of searchPath) {
    for (const candidate of [join(dir, kind, path), join(dir, path)]) {
      if (accept(candidate)) return candidate;
    }
  }
  return undefined;
}

export function controllerFiles(searchPath: string[], decrypt?: DecryptFile): ControllerFiles {
  return {
    find: (kind, path) => findInSearchPath(searchPath, kind, path),
    async read(path) {
      const data = await readFile(path);
      return decrypt ? decrypt(data, path) : data;
    },
    async walk(dir) {
      const out: { path: string; type: 'file' | 'dir' | 'link'; mode: number; target?: string }[] = [];
      const visit = async (d: string): Promise<void> => {
        const entries = (await readdir(d)).sort();
        for (const name of entries) {
          const full = join(d, name);
          const st = await lstat(full);
          const rel = relative(dir, full);
          if (st.isSymbolicLink()) {
            // Like Ansible's copy (follow=no for local trees), links to files are copied as files.
            const target = await readlink(full);
            const real = existsSync(full) ? statSync(full) : undefined;
            if (real?.isDirectory()) {
              out.push({ path: rel, type: 'dir', mode: real.mode & 0o7777 });
              await visit(full);
            } else if (real) out.push({ path: rel, type: 'file', mode: real.mode & 0o7777 });
            else out.push({ path: rel, type: 'link', mode: 0o777, target });
          } else if (st.isDirectory()) {
            out.push({ path: rel, type: 'dir', mode: st.mode & 0o7777 });
            await visit(full);
          } else {
            out.push({ path: rel, type: 'file', mode: st.mode & 0o7777 });
          }
        }
      };
      await visit(dir);
      return out;
    },
    async write(path, data, mode) {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, data, mode === undefined ? {} : { mode });
    },
  };
}
