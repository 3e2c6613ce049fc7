/**
 * The runner's inventory for `meta: refresh_inventory`: the sources are read again (a
 * script or a file a task just rewrote, `drover infra apply` output), and what add_host and
 * group_by added during the run is applied again on top, as ansible-core 2.14 does (its
 * refresh keeps them: checked with ansible-playbook in test/oracle/run-time.test.ts).
 * Plays that start afterwards select hosts from the new inventory; the running play keeps
 * its hosts.
 */
import type { Inventory } from '../inventory/index.js';
import type { InventoryView } from './ports.js';

export class ReloadableInventory implements InventoryView {
  private readonly added: ((inv: Inventory) => void)[] = [];

  constructor(
    private current: Inventory,
    private readonly reload: () => Promise<Inventory>,
  ) {}

  /** The inventory as it is now (after any refresh). */
  get inventory(): Inventory {
    return this.current;
  }

  async refresh(): Promise<void> {
    const next = await this.reload();
    for (const apply of this.added) apply(next);
    this.current = next;
  }

  hostNames(): string[] {
    return this.current.hostNames();
  }
  hasHost(name: string): boolean {
    return this.current.hasHost(name);
  }
  selectHosts(pattern: string | string[], opts?: { limit?: string | string[] }): string[] {
    return this.current.selectHosts(pattern, opts);
  }
  hostVars(host: string): Record<string, unknown> {
    return this.current.hostVars(host);
  }
  magicVars(host: string): Record<string, unknown> {
    return this.current.magicVars(host);
  }
  groups(): Record<string, string[]> {
    return this.current.groups();
  }
  addHost(name: string, groups: string[], vars: Record<string, unknown>): void {
    const own = { ...vars };
    this.current.addHost(name, [...groups], { ...own });
    this.added.push((inv) => inv.addHost(name, [...groups], { ...own }));
  }
  addGroupMembership(host: string, group: string, parents?: string[]): void {
    this.current.addGroupMembership(host, group, parents);
    this.added.push((inv) => inv.addGroupMembership(host, group, parents));
  }
}
