/**
 * The data `ansible-inventory` prints: `--list` (groups with hosts/children, `_meta.hostvars`),
 * `--list --yaml` (nested groups), `--host`, `--graph`. Shapes and key order follow
 * ansible/cli/inventory.py; the internal magic vars it strips are never part of ours.
 */
import YAML from 'yaml';
import { UnsafeString, VaultString } from '../yaml/load.js';
import type { Group } from './data.js';
import type { Inventory } from './inventory.js';

export interface OutputOptions {
  export?: boolean;
  limit?: string | string[];
}

function hostVarsFor(inv: Inventory, host: string, opts: OutputOptions): Record<string, unknown> {
  return ansibleJsonValue(opts.export ? inv.ownHostVars(host) : inv.hostVars(host)) as Record<
    string,
    unknown
  >;
}

/**
 * Values as Ansible's JSON encoder writes them: inline `!vault` values stay encrypted
 * (`{"__ansible_vault": ...}`), YAML dates become ISO dates.
 */
export function ansibleJsonValue(v: unknown): unknown {
  if (v instanceof VaultString) {
    // The YAML loader trims the block; `|` blocks (what encrypt_string prints) end in one newline.
    return { __ansible_vault: v.ciphertext.endsWith('\n') ? v.ciphertext : `${v.ciphertext}\n` };
  }
  if (v instanceof UnsafeString) return v.value;
  if (v instanceof Date) {
    const iso = v.toISOString();
    return iso.endsWith('T00:00:00.000Z')
      ? iso.slice(0, 10)
      : iso.replace('T', ' ').replace(/\.000Z$|Z$/, '+00:00');
  }
  if (Array.isArray(v)) return v.map(ansibleJsonValue);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = ansibleJsonValue(x);
    return out;
  }
  return v;
}

/** `ansible-inventory --list` as a JS object. */
export function inventoryList(inv: Inventory, opts: OutputOptions = {}): Record<string, unknown> {
  const seen = new Set<string>();
  // --limit is drover's own (ansible-inventory 2.14 has none): it narrows groups and hostvars alike.
  const keep = opts.limit !== undefined ? new Set(inv.selectHosts('all', { limit: opts.limit })) : undefined;
  const results: Record<string, unknown> = {};
  const format = (group: Group): void => {
    const entry: Record<string, unknown> = {};
    results[group.name] = entry;
    if (group.name !== 'all')
      entry.hosts = group.hosts.map((h) => h.name).filter((h) => !keep || keep.has(h));
    entry.children = group.children.map((c) => c.name);
    for (const sub of group.children) {
      if (!seen.has(sub.name)) {
        format(sub);
        seen.add(sub.name);
      }
    }
    if (opts.export) entry.vars = ansibleJsonValue(inv.groupVars(group.name));
    for (const k of ['hosts', 'vars', 'children']) {
      const v = entry[k];
      if (v !== undefined && (Array.isArray(v) ? v.length === 0 : Object.keys(v as object).length === 0))
        delete entry[k];
    }
    if (Object.keys(entry).length === 0) delete results[group.name];
  };
  format(inv.data.groups.get('all')!);
  const hostvars: Record<string, unknown> = {};
  const hosts = keep ? [...keep] : inv.hostNames();
  for (const h of hosts) {
    const v = hostVarsFor(inv, h, opts);
    if (Object.keys(v).length > 0) hostvars[h] = v;
  }
  results._meta = { hostvars };
  return results;
}

/** `ansible-inventory --list --yaml` as a JS object. */
export function inventoryYaml(inv: Inventory, opts: OutputOptions = {}): Record<string, unknown> {
  const seen = new Set<string>();
  const format = (group: Group): Record<string, unknown> => {
    const entry: Record<string, unknown> = {};
    const children: Record<string, unknown> = {};
    for (const sub of group.children) if (sub.name !== 'all') Object.assign(children, format(sub));
    entry.children = children;
    const hosts: Record<string, unknown> = {};
    if (group.name !== 'all') {
      for (const h of group.hosts) {
        let v: Record<string, unknown> = {};
        if (!seen.has(h.name)) {
          seen.add(h.name);
          v = hostVarsFor(inv, h.name, opts);
        }
        hosts[h.name] = v;
      }
    }
    entry.hosts = hosts;
    if (opts.export) {
      const gv = ansibleJsonValue(inv.groupVars(group.name)) as Record<string, unknown>;
      if (Object.keys(gv).length > 0) entry.vars = gv;
    }
    for (const k of ['hosts', 'vars', 'children']) {
      const v = entry[k];
      if (v !== undefined && Object.keys(v as object).length === 0) delete entry[k];
    }
    return { [group.name]: entry };
  };
  return format(inv.data.groups.get('all')!);
}

/** `ansible-inventory --host NAME` as a JS object. */
export function inventoryHost(
  inv: Inventory,
  host: string,
  opts: OutputOptions = {},
): Record<string, unknown> {
  return hostVarsFor(inv, host, opts);
}

function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  const inner = (x: unknown): string =>
    typeof x === 'string' ? `'${x.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'` : pyRepr(x);
  if (Array.isArray(v)) return `[${v.map(inner).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${inner(k)}: ${inner(x)}`)
      .join(', ')}}`;
  }
  return String(v);
}

/** `ansible-inventory --graph [GROUP] [--vars]` as text. */
export function inventoryGraph(inv: Inventory, start = 'all', showVars = false): string {
  const root = inv.data.groups.get(start);
  if (!root) throw new Error(`Pattern must be valid group name when using --graph: ${start}`);
  const name = (n: string, depth: number): string => (depth ? `${'  |'.repeat(depth)}--${n}` : n);
  const showMap = (vars: Record<string, unknown>, depth: number): string[] =>
    Object.keys(vars)
      .sort()
      .map((k) => name(`{${k} = ${pyRepr(vars[k])}}`, depth));
  const lines: string[] = [];
  const walk = (g: Group, depth: number): void => {
    lines.push(name(`@${g.name}:`, depth));
    for (const kid of g.children) walk(kid, depth + 1);
    if (g.name !== 'all') {
      for (const h of g.hosts) {
        lines.push(name(h.name, depth + 1));
        if (showVars) lines.push(...showMap(inv.hostVars(h.name), depth + 2));
      }
    }
    if (showVars) lines.push(...showMap(inv.groupVars(g.name), depth + 1));
  };
  walk(root, 0);
  return lines.join('\n');
}

function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort(pyCompare)) out[k] = sortKeysDeep((v as Record<string, unknown>)[k]);
    return out;
  }
  if (
    v &&
    typeof v === 'object' &&
    'toJSON' in v &&
    typeof (v as { toJSON: unknown }).toJSON === 'function'
  ) {
    return (v as { toJSON(): unknown }).toJSON();
  }
  return v;
}

function pyCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** JSON text as Ansible prints it: keys sorted, 4-space indent, non-ASCII kept. */
export function dumpJson(v: unknown): string {
  return JSON.stringify(sortKeysDeep(v), null, 4);
}

/** YAML text like Ansible's (block style, sorted keys). */
export function dumpYaml(v: unknown): string {
  return YAML.stringify(sortKeysDeep(v), { indent: 2, lineWidth: 0 });
}
