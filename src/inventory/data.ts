/**
 * The in-memory inventory graph with Ansible's rules (ansible/inventory/{data,group,host}.py):
 * group depth grows along children, cycles are refused, hosts keep their first-seen order,
 * `all` and `ungrouped` always exist and are fixed up after every source is read.
 */

export const LOCALHOST_NAMES = new Set(['127.0.0.1', 'localhost', '::1']);

export class InventoryGraphError extends Error {}

/** Bumped on every change of the graph; caches built at an older version are stale. */
export interface GraphVersion {
  n: number;
}

export class Group {
  depth = 0;
  priority = 1;
  readonly hosts: Host[] = [];
  readonly hostNames = new Set<string>();
  vars: Record<string, unknown> = {};
  readonly children: Group[] = [];
  readonly parents: Group[] = [];
  private hostsCache: Host[] | undefined;
  private hostsCacheAt = -1;
  private ancestorsCache: Set<Group> | undefined;
  private ancestorsCacheAt = -1;

  constructor(
    readonly name: string,
    private readonly version: GraphVersion = { n: 0 },
  ) {}

  ancestors(): Set<Group> {
    if (this.ancestorsCache && this.ancestorsCacheAt === this.version.n) return this.ancestorsCache;
    const seen = new Set<Group>();
    let todo = [...this.parents];
    while (todo.length > 0) {
      const next: Group[] = [];
      for (const g of todo) {
        if (seen.has(g)) continue;
        seen.add(g);
        next.push(...g.parents);
      }
      todo = next;
    }
    this.ancestorsCache = seen;
    this.ancestorsCacheAt = this.version.n;
    return seen;
  }

  /** Self, then children, then grandchildren... (Ansible's preserve_ordering walk). */
  descendantsOrdered(): Group[] {
    const ordered: Group[] = [this, ...this.children];
    const seen = new Set<Group>([this, ...this.children]);
    let unprocessed: Group[] = [this, ...this.children];
    while (unprocessed.length > 0) {
      const next: Group[] = [];
      for (const g of unprocessed) {
        for (const kid of g.children) {
          if (!seen.has(kid)) {
            seen.add(kid);
            ordered.push(kid);
            next.push(kid);
          }
        }
      }
      unprocessed = next;
    }
    return ordered;
  }

  addChildGroup(group: Group): boolean {
    if (group === this) throw new InventoryGraphError(`group '${this.name}' cannot be a child of itself`);
    if (this.children.includes(group)) return false;
    const newAncestors = this.ancestors();
    if (newAncestors.has(group)) {
      throw new InventoryGraphError(
        `adding group '${group.name}' as a child of '${this.name}' creates a loop: '${group.name}' is already an ancestor of '${this.name}'`,
      );
    }
    this.children.push(group);
    group.raiseDepth(this.depth + 1);
    if (!group.parents.includes(this)) group.parents.push(this);
    this.clearHostsCache();
    return true;
  }

  private raiseDepth(depth: number): void {
    if (this.depth >= depth) return;
    this.depth = depth;
    for (const kid of this.children) kid.raiseDepth(depth + 1);
  }

  addHost(host: Host): boolean {
    if (this.hostNames.has(host.name)) return false;
    this.hosts.push(host);
    this.hostNames.add(host.name);
    host.directGroups.add(this);
    this.clearHostsCache();
    return true;
  }

  removeHost(host: Host): boolean {
    if (!this.hostNames.has(host.name)) return false;
    this.hosts.splice(this.hosts.indexOf(host), 1);
    this.hostNames.delete(host.name);
    host.directGroups.delete(this);
    this.clearHostsCache();
    return true;
  }

  setVariable(key: string, value: unknown): void {
    if (key === 'ansible_group_priority') {
      const n = pythonInt(value);
      if (n !== undefined) this.priority = n;
      return;
    }
    this.vars[key] = value;
  }

  clearHostsCache(): void {
    this.version.n++;
  }

  /** Every host of this group and its descendants, in Ansible's order. */
  getHosts(): Host[] {
    if (this.hostsCache && this.hostsCacheAt === this.version.n) return this.hostsCache;
    const out: Host[] = [];
    const seen = new Set<Host>();
    for (const kid of this.descendantsOrdered()) {
      for (const h of kid.hosts) {
        if (seen.has(h)) continue;
        seen.add(h);
        if (this.name === 'all' && h.implicit) continue;
        out.push(h);
      }
    }
    this.hostsCache = out;
    this.hostsCacheAt = this.version.n;
    return out;
  }
}

function pythonInt(v: unknown): number | undefined {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) return Number.parseInt(v, 10);
  if (v === null || v === undefined) return undefined;
  throw new InventoryGraphError(`ansible_group_priority must be an integer, got ${JSON.stringify(v)}`);
}

export class Host {
  vars: Record<string, unknown> = {};
  /** Groups that list this host directly. */
  readonly directGroups = new Set<Group>();
  implicit = false;
  /** The source this host was first seen in (Ansible's `inventory_file`). */
  source: string | undefined;

  constructor(
    readonly name: string,
    port?: number,
  ) {
    if (port !== undefined) this.vars.ansible_port = port;
  }

  /** Direct groups and all their ancestors (Ansible's host.get_groups()). */
  groups(): Set<Group> {
    const out = new Set<Group>();
    for (const g of this.directGroups) {
      out.add(g);
      for (const a of g.ancestors()) out.add(a);
    }
    return out;
  }
}

export class InventoryData {
  readonly groups = new Map<string, Group>();
  readonly hosts = new Map<string, Host>();
  localhost: Host | undefined;
  private readonly implicitHosts = new Map<string, Host>();
  currentSource: string | undefined;
  readonly warnings: string[] = [];
  private readonly version: GraphVersion = { n: 0 };

  constructor() {
    this.addGroup('all');
    this.addGroup('ungrouped');
    this.addChild('all', 'ungrouped');
  }

  addGroup(name: string): string {
    if (!name) throw new InventoryGraphError('empty group name');
    if (!this.groups.has(name)) this.groups.set(name, new Group(name, this.version));
    return name;
  }

  addHost(name: string, group?: string, port?: number): Host {
    if (!name) throw new InventoryGraphError('empty host name');
    let g: Group | undefined;
    if (group) {
      g = this.groups.get(group);
      if (!g) throw new InventoryGraphError(`could not find group ${group} in inventory`);
    }
    let h = this.hosts.get(name);
    if (!h) {
      h = new Host(name, port);
      h.source = this.currentSource;
      this.hosts.set(name, h);
      if (LOCALHOST_NAMES.has(name)) {
        if (this.localhost === undefined) this.localhost = h;
        else
          this.warnings.push(
            `A duplicate localhost-like entry was found (${name}). First found localhost was ${this.localhost.name}`,
          );
      }
    }
    if (g) g.addHost(h);
    return h;
  }

  setVariable(entity: string, key: string, value: unknown): void {
    const target = this.groups.get(entity) ?? this.hosts.get(entity);
    if (!target) throw new InventoryGraphError(`could not identify group or host named ${entity}`);
    if (target instanceof Group) target.setVariable(key, value);
    else target.vars[key] = value;
  }

  addChild(group: string, child: string): boolean {
    const g = this.groups.get(group);
    if (!g) throw new InventoryGraphError(`${group} is not a known group`);
    const cg = this.groups.get(child);
    if (cg) return g.addChildGroup(cg);
    const h = this.hosts.get(child);
    if (h) return g.addHost(h);
    throw new InventoryGraphError(`${child} is not a known host nor group`);
  }

  /** Ansible's reconcile_inventory: top groups under `all`, lone hosts in `ungrouped`. */
  reconcile(): void {
    const all = this.groups.get('all')!;
    const ungrouped = this.groups.get('ungrouped')!;
    for (const g of this.groups.values()) {
      if (g.name !== 'all' && g.parents.length === 0) this.addChild('all', g.name);
    }
    for (const h of this.hosts.values()) {
      const mine = h.groups();
      if (mine.has(ungrouped)) {
        for (const g of mine) {
          if (g !== all && g !== ungrouped) {
            ungrouped.removeHost(h);
            break;
          }
        }
      } else if (!h.implicit) {
        if (mine.size === 0 || (mine.size === 1 && mine.has(all))) ungrouped.addHost(h);
      }
    }
    for (const name of this.groups.keys()) {
      if (this.hosts.has(name)) this.warnings.push(`Found both group and host with same name: ${name}`);
    }
  }

  /** The host, or the implicit localhost when `name` is a localhost name not in the inventory. */
  getHost(name: string, pythonInterpreter: string): Host | undefined {
    const h = this.hosts.get(name);
    if (h) return h;
    if (!LOCALHOST_NAMES.has(name)) return undefined;
    // One implicit host per name: each `ansible` run creates it under the name first asked for.
    const made = this.implicitHosts.get(name);
    if (made) return made;
    if (this.localhost) return this.localhost;
    const local = new Host(name);
    local.implicit = true;
    local.vars.ansible_python_interpreter = pythonInterpreter;
    local.vars.ansible_connection = 'local';
    this.implicitHosts.set(name, local);
    return local;
  }
}
