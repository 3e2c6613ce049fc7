/**
 * Loading inventory sources (files, directories, scripts, comma lists) and answering the
 * engine's questions: which hosts a pattern selects, and each host's inventory-level
 * variables merged in Ansible's precedence order (see docs/inventory.md).
 */
import {
  accessSync,
  closeSync,
  constants,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { type Problem, ValidationError } from '../errors.js';
import { IPV4, IPV6, parseAddress } from './address.js';
import { type Group, type Host, InventoryData, InventoryGraphError } from './data.js';
import { parseIni } from './ini.js';
import { PatternError, PatternMatcher } from './pattern.js';
import { parseScriptInventory } from './script.js';
import { VarsFileStore } from './varsfiles.js';
import { parseYamlInventory } from './yaml.js';

export interface InventoryOptions {
  sources: string[];
  cwd?: string;
  playbookDir?: string;
  decryptVault?: (ciphertext: string, where: string) => string;
  warn?: (message: string) => void;
}

/** What ansible-core puts in the implicit localhost's `ansible_python_interpreter` (its own sys.executable). */
export const IMPLICIT_LOCALHOST_PYTHON = '/usr/bin/python3';

/** Ansible's INVENTORY_IGNORE_EXTS and always-ignored names, for files inside a directory source. */
const IGNORED =
  /^\.|^host_vars$|^group_vars$|^vars_plugins$|(?:\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.ini|\.cfg|\.retry)$/;
const YAML_EXTS = new Set(['.yaml', '.yml', '.json']);
const INVALID_GROUP_NAME = /^\p{Nd}|[^\p{L}\p{N}_]/u;

function statOf(p: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

function pyCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortGroups(groups: Iterable<Group>): Group[] {
  return [...groups].sort(
    (a, b) => a.depth - b.depth || a.priority - b.priority || pyCompare(a.name, b.name),
  );
}

export class Inventory {
  private readonly matcher: PatternMatcher;
  private playbookDirs: string[] = [];
  private varsCache = new Map<string, Record<string, unknown>>();
  private groupSetCache = new Map<string, Record<string, unknown>>();

  /** @internal use loadInventory() */
  constructor(
    readonly data: InventoryData,
    private readonly sourceDirs: string[],
    private readonly store: VarsFileStore,
    private readonly warn: (message: string) => void,
    readonly sources: string[],
    cwd: string,
  ) {
    this.matcher = new PatternMatcher({ data, warn, pythonInterpreter: IMPLICIT_LOCALHOST_PYTHON, cwd });
  }

  /** Host names in inventory order (the order of the `all` pattern). */
  hostNames(): string[] {
    return this.data.groups
      .get('all')!
      .getHosts()
      .map((h) => h.name);
  }

  hasHost(name: string): boolean {
    return this.data.hosts.has(name);
  }

  /** Hosts selected by `pattern` (and `limit`), in Ansible's order; unknown names warn. */
  selectHosts(pattern: string | string[], opts: { limit?: string | string[] } = {}): string[] {
    try {
      return this.matcher.getHosts(pattern, opts.limit).map((h) => h.name);
    } catch (e) {
      if (e instanceof PatternError) throw new ValidationError([{ message: e.message, severity: 'error' }]);
      throw e;
    }
  }

  /** Ansible's `ansible PATTERN --list-hosts`: an unmatched localhost name lists itself. */
  listHosts(pattern: string | string[], opts: { limit?: string | string[] } = {}): string[] {
    const r = this.selectHosts(pattern, opts);
    if (r.length === 0 && typeof pattern === 'string' && ['localhost', '127.0.0.1', '::1'].includes(pattern))
      return [pattern];
    return r;
  }

  private host(name: string): Host {
    const h = this.data.getHost(name, IMPLICIT_LOCALHOST_PYTHON);
    if (!h)
      throw new ValidationError([{ message: `host '${name}' is not in the inventory`, severity: 'error' }]);
    return h;
  }

  /** The sorted groups of a host, without `all` (the order group vars are applied in). */
  hostGroups(name: string): Group[] {
    return sortGroups([...this.host(name).groups()].filter((g) => g.name !== 'all'));
  }

  /**
   * Inventory-level variables of a host, merged but not templated: inline `all` vars,
   * inline group vars, group_vars/all (inventory dirs, then playbook dir), group_vars/GROUP
   * (same), inline host vars, host_vars/HOST (inventory dirs, then playbook dir).
   */
  hostVars(name: string): Record<string, unknown> {
    const hit = this.varsCache.get(name);
    if (hit) return { ...hit };
    const h = this.host(name);
    const groups = this.hostGroups(name);
    const v: Record<string, unknown> = { ...this.groupLevelVars(groups) };
    Object.assign(v, h.vars);
    for (const d of this.sourceDirs) Object.assign(v, this.store.vars(d, 'host_vars', h.name));
    for (const d of this.playbookDirs) Object.assign(v, this.store.vars(d, 'host_vars', h.name));
    this.varsCache.set(name, v);
    return { ...v };
  }

  /** The group part of hostVars; hosts in the same groups share it (10,000 hosts, ~200 sets). */
  private groupLevelVars(groups: Group[]): Record<string, unknown> {
    const key = groups.map((g) => g.name).join('\0');
    const hit = this.groupSetCache.get(key);
    if (hit) return hit;
    const v: Record<string, unknown> = { ...this.data.groups.get('all')!.vars };
    for (const g of groups) Object.assign(v, g.vars);
    for (const d of this.sourceDirs) Object.assign(v, this.store.vars(d, 'group_vars', 'all'));
    for (const d of this.playbookDirs) Object.assign(v, this.store.vars(d, 'group_vars', 'all'));
    for (const d of this.sourceDirs)
      for (const g of groups) Object.assign(v, this.store.vars(d, 'group_vars', g.name));
    for (const d of this.playbookDirs)
      for (const g of groups) Object.assign(v, this.store.vars(d, 'group_vars', g.name));
    this.groupSetCache.set(key, v);
    return v;
  }

  /** Variables of a group alone (inline, then group_vars files), as `ansible-inventory --export` shows them. */
  groupVars(name: string): Record<string, unknown> {
    const g = this.data.groups.get(name);
    if (!g)
      throw new ValidationError([{ message: `group '${name}' is not in the inventory`, severity: 'error' }]);
    const v: Record<string, unknown> = { ...g.vars };
    for (const d of this.sourceDirs) Object.assign(v, this.store.vars(d, 'group_vars', name));
    for (const d of this.playbookDirs) Object.assign(v, this.store.vars(d, 'group_vars', name));
    if (g.priority !== 1) v.ansible_group_priority = g.priority;
    return v;
  }

  /** Host-only variables (inline, then host_vars files), as `--export` shows them. */
  ownHostVars(name: string): Record<string, unknown> {
    const h = this.host(name);
    const v: Record<string, unknown> = { ...h.vars };
    for (const d of this.sourceDirs) Object.assign(v, this.store.vars(d, 'host_vars', name));
    for (const d of this.playbookDirs) Object.assign(v, this.store.vars(d, 'host_vars', name));
    return v;
  }

  magicVars(name: string): Record<string, unknown> {
    const h = this.host(name);
    const out: Record<string, unknown> = {
      inventory_hostname: h.name,
      inventory_hostname_short: IPV4.test(h.name) || IPV6.test(h.name) ? h.name : h.name.split('.')[0],
      group_names: [...h.groups()]
        .filter((g) => g.name !== 'all')
        .map((g) => g.name)
        .sort(pyCompare),
    };
    if (!h.implicit) {
      out.inventory_file = h.source ?? null;
      // Ansible stores to_text(None) here for host lists: the string 'None', not null.
      out.inventory_dir = h.source === undefined ? null : (sourceBasedir(h.source) ?? 'None');
    }
    return out;
  }

  /** The `groups` magic variable: every group (including all and ungrouped) → its hosts. */
  groups(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [name, g] of this.data.groups) out[name] = g.getHosts().map((h) => h.name);
    return out;
  }

  /** Loads group_vars/ and host_vars/ beside the playbook (Ansible's playbook-dir level). */
  async setPlaybookDir(dir: string): Promise<void> {
    this.playbookDirs = [resolve(dir)];
    this.varsCache.clear();
    this.groupSetCache.clear();
    preloadVars(this, this.store, this.playbookDirs);
    throwStoreProblems(this.store, this.warn);
  }

  /** `add_host`: adds the host (to `all` when new) and to each named group, with vars. */
  addHost(name: string, groups: string[], vars: Record<string, unknown>): void {
    const data = this.data;
    if (!data.hosts.has(name)) data.addHost(name, 'all');
    const h = data.hosts.get(name)!;
    Object.assign(h.vars, vars);
    for (const g of groups) {
      data.addGroup(g);
      data.groups.get(g)!.addHost(h);
    }
    this.refresh();
  }

  /** `group_by`: puts the host in `group` (created on demand) under each of `parents`. */
  addGroupMembership(host: string, group: string, parents: string[] = []): void {
    const data = this.data;
    const h = data.hosts.get(host) ?? data.getHost(host, IMPLICIT_LOCALHOST_PYTHON);
    if (!h)
      throw new ValidationError([{ message: `${host} cannot be matched in inventory`, severity: 'error' }]);
    data.addGroup(group);
    const g = data.groups.get(group)!;
    try {
      for (const p of parents) {
        data.addGroup(p);
        data.groups.get(p)!.addChildGroup(g);
      }
    } catch (e) {
      if (e instanceof InventoryGraphError)
        throw new ValidationError([{ message: e.message, severity: 'error' }]);
      throw e;
    }
    g.addHost(h);
    this.refresh();
  }

  private refresh(): void {
    this.data.reconcile();
    this.data.warnings.length = 0;
    this.matcher.clear();
    this.varsCache.clear();
    this.groupSetCache.clear();
  }
}

function sourceBasedir(source: string): string | null {
  const st = statOf(source);
  if (st?.isDirectory()) return resolve(source);
  if (st?.isFile()) return resolve(dirname(source));
  return null;
}

function preloadVars(inv: Inventory, store: VarsFileStore, dirs: string[]): void {
  // Reading every vars file now turns their errors into load errors rather than surprises mid-run.
  for (const d of dirs) {
    for (const g of inv.data.groups.keys()) store.vars(d, 'group_vars', g);
    for (const h of inv.data.hosts.keys()) store.vars(d, 'host_vars', h);
  }
}

function throwStoreProblems(store: VarsFileStore, warn: (m: string) => void): void {
  for (const w of store.warnings.splice(0)) warn(w);
  const problems = store.problems.splice(0);
  if (problems.some((p) => p.severity !== 'warning')) throw new ValidationError(problems);
}

function isExecutableOrShebang(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    // not executable: a shebang still makes Ansible try it as a script
  }
  try {
    const fd = openSync(path, 'r');
    const buf = Buffer.alloc(2);
    const n = readSync(fd, buf, 0, 2, 0);
    closeSync(fd);
    return n === 2 && buf.toString('latin1') === '#!';
  } catch {
    return false;
  }
}

class SourceLoader {
  readonly problems: Problem[] = [];
  readonly warnings: string[] = [];
  constructor(
    readonly data: InventoryData,
    readonly decryptVault?: (ciphertext: string, where: string) => string,
  ) {}

  /** `infra:DIR`: the hosts an infra state holds (src/infra/hosts.ts). */
  async infra(source: string, dir: string): Promise<void> {
    const { infraInventoryText } = await import('../infra/hosts.js');
    let text: string;
    try {
      text = await infraInventoryText(dir);
    } catch (e) {
      this.problems.push({
        message: `cannot read hosts from infra state ${dir}: ${(e as Error).message}`,
        pos: { file: source, line: 1, col: 1 },
        severity: 'error',
        hint: 'run `drover infra apply` in that directory first',
      });
      return;
    }
    this.data.currentSource = dir;
    try {
      const r = parseYamlInventory(this.data, text, source, this.decryptVault);
      this.problems.push(...r.problems);
      this.warnings.push(...r.warnings);
    } finally {
      this.data.currentSource = undefined;
    }
  }

  hostList(list: string): void {
    this.data.currentSource = list;
    for (const raw of list.split(',')) {
      const h = raw.trim();
      if (!h) continue;
      let host = h;
      let port: number | undefined;
      try {
        ({ host, port } = parseAddress(h, false));
      } catch {
        // Ansible keeps a name it cannot parse as an address unchanged
      }
      if (!this.data.hosts.has(host)) this.data.addHost(host, 'ungrouped', port);
    }
    this.data.currentSource = undefined;
  }

  async path(path: string): Promise<void> {
    const st = statOf(path);
    if (!st) {
      this.problems.push({
        message: `inventory source not found: ${path}`,
        pos: { file: path, line: 1, col: 1 },
        severity: 'error',
        hint: "check the -i path; for a list of hosts, end it with a comma: -i 'host1,'",
      });
      return;
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = readdirSync(path).sort(pyCompare);
      } catch (e) {
        this.problems.push({
          message: `cannot read inventory directory: ${(e as Error).message}`,
          pos: { file: path, line: 1, col: 1 },
          severity: 'error',
        });
        return;
      }
      for (const n of names) if (!IGNORED.test(n)) await this.path(join(path, n));
      return;
    }
    await this.file(path);
  }

  private async file(path: string): Promise<void> {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      this.problems.push({
        message: `cannot read inventory file: ${(e as Error).message}`,
        pos: { file: path, line: 1, col: 1 },
        severity: 'error',
      });
      return;
    }
    this.data.currentSource = path;
    const ext = extname(basename(path));
    const failures: { plugin: string; problems: Problem[]; weight: number }[] = [];
    try {
      // Plugins in Ansible's default order: script, (auto,) yaml, ini; the first that parses wins.
      if (isExecutableOrShebang(path)) {
        const r = await parseScriptInventory(this.data, path);
        if (r.problems.length === 0) return;
        failures.push({ plugin: 'script', problems: r.problems, weight: r.ran ? 3 : 0 });
      }
      // Ansible's loader decrypts whole-file vault before any file plugin reads it.
      if (text.startsWith('$ANSIBLE_VAULT;')) {
        if (!this.decryptVault) {
          this.problems.push({
            message: 'this inventory file is vault-encrypted and no vault secret was given',
            pos: { file: path, line: 1, col: 1 },
            severity: 'error',
            hint: 'pass --vault-password-file or --ask-vault-pass',
          });
          return;
        }
        try {
          text = this.decryptVault(text, path);
        } catch (e) {
          this.problems.push({
            message: `cannot decrypt inventory file: ${(e as Error).message}`,
            pos: { file: path, line: 1, col: 1 },
            severity: 'error',
          });
          return;
        }
      }
      if (!ext || YAML_EXTS.has(ext)) {
        const r = parseYamlInventory(this.data, text, path, this.decryptVault);
        if (r.problems.length === 0) {
          this.warnings.push(...r.warnings);
          return;
        }
        failures.push({ plugin: 'yaml', problems: r.problems, weight: r.isInventory || ext ? 2 : 0 });
      }
      if (ext === '.toml') {
        failures.push({
          plugin: 'toml',
          problems: [
            {
              message: 'TOML inventories are not supported yet',
              pos: { file: path, line: 1, col: 1 },
              severity: 'error',
              hint: 'convert it with `ansible-inventory -i FILE --list --yaml`',
            },
          ],
          weight: 2,
        });
      }
      const iniProblems = parseIni(this.data, text, path);
      if (iniProblems.length === 0) return;
      failures.push({ plugin: 'ini', problems: iniProblems, weight: 1 });
      const best = failures.reduce((a, b) => (b.weight > a.weight ? b : a));
      this.problems.push(...best.problems);
    } catch (e) {
      if (e instanceof InventoryGraphError) {
        this.problems.push({ message: e.message, pos: { file: path, line: 1, col: 1 }, severity: 'error' });
      } else throw e;
    } finally {
      this.data.currentSource = undefined;
    }
  }
}

/** Reads every source (in order), then fixes up `all`/`ungrouped`; throws every problem at once. */
export async function loadInventory(opts: InventoryOptions): Promise<Inventory> {
  const cwd = opts.cwd ?? process.cwd();
  const warn = opts.warn ?? (() => {});
  const data = new InventoryData();
  const loader = new SourceLoader(data, opts.decryptVault);
  const sourceDirs: string[] = [];
  for (const source of opts.sources) {
    if (!source) continue;
    const expanded = source === '~' || source.startsWith('~/') ? join(homedir(), source.slice(1)) : source;
    if (source.startsWith('infra:')) {
      await loader.infra(source, resolve(cwd, source.slice(6) || '.'));
      continue;
    }
    const abs = isAbsolute(expanded) ? expanded : resolve(cwd, expanded);
    if (source.includes(',') && !statOf(abs)) {
      loader.hostList(source);
      continue;
    }
    const full = resolve(abs);
    await loader.path(full);
    const st = statOf(full);
    if (st) sourceDirs.push(st.isDirectory() ? full : dirname(full));
  }
  data.reconcile();
  if (!opts.sources.some((s) => s))
    loader.warnings.push('No inventory was parsed, only implicit localhost is available');
  for (const name of data.groups.keys()) {
    if (INVALID_GROUP_NAME.test(name)) {
      loader.warnings.push(
        'Invalid characters were found in group names but not replaced, use -vvvv to see details',
      );
      break;
    }
  }
  for (const w of [...loader.warnings, ...data.warnings.splice(0)]) warn(w);
  if (loader.problems.length > 0) throw new ValidationError(loader.problems);
  const store = new VarsFileStore(opts.decryptVault);
  const inv = new Inventory(data, sourceDirs, store, warn, opts.sources, cwd);
  preloadVars(inv, store, sourceDirs);
  throwStoreProblems(store, warn);
  if (opts.playbookDir !== undefined) await inv.setPlaybookDir(resolve(cwd, opts.playbookDir));
  return inv;
}
