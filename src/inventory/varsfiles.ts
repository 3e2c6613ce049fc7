/**
 * `group_vars/` and `host_vars/` directories (Ansible's host_group_vars plugin): for an
 * entity NAME, the first of `NAME`, `NAME.yml`, `NAME.yaml`, `NAME.json` that exists; a
 * directory is read recursively in sorted order (hidden files and `~` backups skipped,
 * only those extensions or none). Whole-file vault is decrypted through the callback.
 */
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { extname, join, sep } from 'node:path';
import type { Problem } from '../errors.js';
import { loadYaml } from '../yaml/load.js';
import { duplicateKeyWarnings } from './yaml.js';

const EXTENSIONS = ['', '.yml', '.yaml', '.json'];
const NO_VARS: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function statOf(p: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

export class VarsFileStore {
  private readonly cache = new Map<string, Record<string, unknown>>();
  private readonly dirListing = new Map<string, Set<string> | null>();
  /** Entity names that have a file or directory in a listed dir (NAME plus a known extension). */
  private readonly stems = new Map<string, Set<string>>();
  readonly problems: Problem[] = [];
  readonly warnings: string[] = [];

  constructor(private readonly decryptVault?: (ciphertext: string, where: string) => string) {}

  /** Merged vars of `basedir/subdir/name*`; `{}` when there are none. */
  vars(basedir: string, subdir: 'group_vars' | 'host_vars', name: string): Record<string, unknown> {
    if (name.startsWith(sep)) return {}; // chroot-style host names are paths, not vars files
    const key = `${basedir}\0${subdir}\0${name}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const dir = this.dirOf(basedir, subdir);
    const entries = this.listing(dir, subdir);
    // Most hosts have no host_vars file: answer those without building paths.
    if (!entries || !this.stems.get(dir)?.has(name)) return NO_VARS;
    let data: Record<string, unknown> = {};
    for (const ext of EXTENSIONS) {
      if (!entries.has(name + ext)) continue;
      const full = join(dir, name + ext);
      const st = statOf(full);
      if (!st) continue;
      const files = st.isDirectory() ? this.dirFiles(full) : [full];
      for (const f of files) data = { ...data, ...this.loadFile(f) };
      break;
    }
    this.cache.set(key, data);
    return data;
  }

  private readonly dirs = new Map<string, string>();
  private dirOf(basedir: string, subdir: string): string {
    const k = `${basedir}\0${subdir}`;
    let d = this.dirs.get(k);
    if (d === undefined) {
      d = join(basedir, subdir);
      this.dirs.set(k, d);
    }
    return d;
  }

  /** Names in `dir`, or null when it does not exist (listed once: 10,000 hosts, one readdir). */
  private listing(dir: string, subdir: string): Set<string> | null {
    if (this.dirListing.has(dir)) return this.dirListing.get(dir)!;
    let names: Set<string> | null = null;
    const st = statOf(dir);
    if (st?.isDirectory()) {
      try {
        names = new Set(readdirSync(dir));
        const stems = new Set<string>();
        for (const n of names) {
          stems.add(n);
          for (const ext of EXTENSIONS) if (ext && n.endsWith(ext)) stems.add(n.slice(0, -ext.length));
        }
        this.stems.set(dir, stems);
      } catch (e) {
        this.problems.push({
          message: `cannot read ${subdir} directory: ${(e as Error).message}`,
          pos: { file: dir, line: 1, col: 1 },
          severity: 'error',
        });
      }
    } else if (st) {
      this.warnings.push(`Found ${subdir} that is not a directory, skipping: ${realpathSync(dir)}`);
    }
    this.dirListing.set(dir, names);
    return names;
  }

  private dirFiles(dir: string): string[] {
    const found: string[] = [];
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      this.problems.push({
        message: `cannot read directory: ${(e as Error).message}`,
        pos: { file: dir, line: 1, col: 1 },
        severity: 'error',
      });
      return found;
    }
    for (const n of names) {
      if (n.startsWith('.') || n.endsWith('~')) continue;
      const full = join(dir, n);
      const ext = extname(n);
      const st = statOf(full);
      if (!st) continue;
      if (st.isDirectory() && !ext) found.push(...this.dirFiles(full));
      else if (st.isFile() && EXTENSIONS.includes(ext)) found.push(full);
    }
    return found;
  }

  private loadFile(file: string): Record<string, unknown> {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      this.problems.push({
        message: `cannot read vars file: ${(e as Error).message}`,
        pos: { file, line: 1, col: 1 },
        severity: 'error',
      });
      return {};
    }
    if (text.startsWith('$ANSIBLE_VAULT;')) {
      if (!this.decryptVault) {
        this.problems.push({
          message: 'this vars file is vault-encrypted and no vault secret was given',
          pos: { file, line: 1, col: 1 },
          severity: 'error',
          hint: 'pass --vault-password-file or --ask-vault-pass',
        });
        return {};
      }
      try {
        text = this.decryptVault(text, file);
      } catch (e) {
        this.problems.push({
          message: `cannot decrypt vars file: ${(e as Error).message}`,
          pos: { file, line: 1, col: 1 },
          severity: 'error',
        });
        return {};
      }
    }
    const y = loadYaml(text, file, this.decryptVault ? { decryptVault: this.decryptVault } : {});
    if (y.problems.length > 0) {
      this.problems.push(...y.problems);
      return {};
    }
    this.warnings.push(...duplicateKeyWarnings(y));
    const doc = y.docs[0];
    if (doc === null || doc === undefined || doc === '') return {};
    if (!isPlainObject(doc)) {
      this.problems.push({
        message: `vars file must hold a mapping of variable names to values, got ${Array.isArray(doc) ? 'a list' : typeof doc}`,
        pos: { file, line: 1, col: 1 },
        severity: 'error',
      });
      return {};
    }
    return doc;
  }
}
