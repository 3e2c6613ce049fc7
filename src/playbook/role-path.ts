/**
 * Where roles and their main files live on disk: the search Ansible's RoleDefinition does
 * (roles/ beside the play, roles_path, the play's directory) and the `main` file lookup
 * (`main.yml`, `main.yaml`, `main.json`, `main`).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

const MAIN_EXTS = ['.yml', '.yaml', '.json', ''];

/** The first directory of `dirs` holding a role named `name` (or `name` itself, when absolute). */
export function findRoleDir(name: string, dirs: string[]): { found?: string; searched: string[] } {
  if (isAbsolute(name)) {
    return existsSync(name) ? { found: resolve(name), searched: [name] } : { searched: [dirname(name)] };
  }
  const searched = [...new Set(dirs)];
  for (const d of searched) {
    const p = join(d, name);
    if (existsSync(p) && statSync(p).isDirectory()) return { found: resolve(p), searched };
  }
  return { searched };
}

/** `dir/base.yml` (or .yaml, .json, no extension) when it is a file. */
export function roleMainFile(dir: string, base: string): string | undefined {
  for (const ext of MAIN_EXTS) {
    const p = join(dir, `${base}${ext}`);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return undefined;
}
