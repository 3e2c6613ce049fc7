/**
 * `inventory`: writes an Ansible YAML inventory from resources, so a playbook can run against
 * what infra created (`drover playbook -i FILE`). Each host is a map with `name` and any of
 * `address`, `port`, `user`, `private_key_file` (mapped to ansible_host, ansible_port,
 * ansible_user, ansible_ssh_private_key_file), `groups` and `vars`.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import YAML from 'yaml';
import type { AttrSchema, Attrs, AttrValue, Provider, ResourceType } from '../provider.js';
import { configPath, mapOf, sha1, str, withDefaults } from './util.js';

const attributes: Record<string, AttrSchema> = {
  filename: { type: 'string', required: true, forceNew: true, description: 'inventory file to write (YAML)' },
  hosts: {
    type: 'list',
    required: true,
    description: 'list of host maps: name, address, port, user, private_key_file, groups, vars',
  },
  group: { type: 'string', optional: true, description: 'group of hosts that name no groups' },
  groups: { type: 'map', optional: true, description: 'group name -> {vars, children}' },
  vars: { type: 'map', optional: true, description: 'variables of group all' },
  content: { type: 'string', computed: true },
  id: { type: 'string', computed: true },
};

const HOST_VAR: Record<string, string> = {
  address: 'ansible_host',
  port: 'ansible_port',
  user: 'ansible_user',
  private_key_file: 'ansible_ssh_private_key_file',
};

interface GroupOut {
  hosts?: Record<string, Record<string, AttrValue> | null>;
  vars?: Record<string, AttrValue>;
  children?: Record<string, GroupOut>;
}

/** The inventory text (Ansible YAML format) for the given attributes. */
export function renderInventory(a: Attrs): string {
  const all: GroupOut = {};
  const groups = new Map<string, GroupOut>();
  const group = (name: string): GroupOut => {
    let g = groups.get(name);
    if (!g) {
      g = {};
      groups.set(name, g);
    }
    return g;
  };
  const hosts = Array.isArray(a.hosts) ? a.hosts : [];
  for (const raw of hosts) {
    const h = mapOf(raw);
    const name = str(h, 'name') || str(h, 'address');
    if (!name) continue;
    const vars: Record<string, AttrValue> = {};
    for (const [k, v] of Object.entries(h)) {
      if (v === null || v === undefined) continue;
      if (HOST_VAR[k]) vars[HOST_VAR[k]] = v;
      else if (k.startsWith('ansible_')) vars[k] = v;
    }
    Object.assign(vars, mapOf(h.vars));
    const hostGroups = Array.isArray(h.groups) ? h.groups.map(String) : [str(a, 'group') || 'ungrouped'];
    for (const g of hostGroups) {
      const out = group(g);
      out.hosts ??= {};
      out.hosts[name] = Object.keys(vars).length > 0 ? vars : null;
    }
  }
  for (const [name, spec] of Object.entries(mapOf(a.groups))) {
    const s = mapOf(spec);
    const g = group(name);
    if (Object.keys(mapOf(s.vars)).length > 0) g.vars = mapOf(s.vars);
    if (Array.isArray(s.children)) {
      g.children ??= {};
      for (const c of s.children) g.children[String(c)] = group(String(c));
    }
  }
  const childNames = new Set<string>();
  for (const g of groups.values()) for (const c of Object.keys(g.children ?? {})) childNames.add(c);
  all.children = {};
  for (const [name, g] of [...groups].sort(([x], [y]) => x.localeCompare(y)))
    if (!childNames.has(name)) all.children[name] = g;
  if (Object.keys(mapOf(a.vars)).length > 0) all.vars = mapOf(a.vars);
  return `# Written by drover infra; do not edit (changes are overwritten on the next apply).\n${YAML.stringify({ all }, { aliasDuplicateObjects: false })}`;
}

function write(a: Attrs, dir: string): Attrs {
  const content = renderInventory(a);
  const path = configPath(dir, str(a, 'filename'));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.drover-tmp`, content);
  renameSync(`${path}.drover-tmp`, path);
  return { ...a, content, id: sha1(content) };
}

export const inventoryResource: ResourceType = {
  schema: {
    type: 'inventory',
    description: 'an Ansible inventory file written from resources',
    attributes: { ...attributes },
  },
  validate(c) {
    if (c.hosts !== undefined && c.hosts !== null && !Array.isArray(c.hosts) && typeof c.hosts !== 'string')
      return [
        { attribute: 'hosts', message: 'hosts must be a list of maps (name, address, port, user, ...)' },
      ];
    return [];
  },
  plan(config) {
    const a = withDefaults(config, attributes);
    try {
      const content = renderInventory(a);
      return { ...a, content, id: sha1(content) };
    } catch {
      return a;
    }
  },
  async create(config, ctx) {
    return write(withDefaults(config, attributes), ctx.dir);
  },
  async update(_prior, config, ctx) {
    return write(withDefaults(config, attributes), ctx.dir);
  },
  async read(state, ctx) {
    const path = configPath(ctx.dir, str(state, 'filename'));
    if (!existsSync(path)) return undefined;
    const text = readFileSync(path, 'utf8');
    // Edited out of band: an empty content makes the next plan rewrite it.
    return text === state.content ? state : { ...state, content: text, id: sha1(text) };
  },
  async delete(state, ctx) {
    rmSync(configPath(ctx.dir, str(state, 'filename')), { force: true });
  },
};

export const inventoryProvider: Provider = { name: 'inventory', resources: [inventoryResource] };
