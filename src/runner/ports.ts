/**
 * What the runner needs from the rest of drover, as narrow structural interfaces. The CLI
 * wires the real inventory, template engine and connection pool; engine unit tests pass
 * fakes. Nothing here is global.
 */
import type { PlayNode, RoleInstance, TaskOrigin } from '../playbook/types.js';
import type { Connection, ConnectionSpec } from '../transport/types.js';

export type VarLookup = (name: string) => unknown;

export interface InventoryView {
  hostNames(): string[];
  hasHost(name: string): boolean;
  selectHosts(pattern: string | string[], opts?: { limit?: string | string[] }): string[];
  hostVars(host: string): Record<string, unknown>;
  magicVars(host: string): Record<string, unknown>;
  groups(): Record<string, string[]>;
  addHost(name: string, groups: string[], vars: Record<string, unknown>): void;
  addGroupMembership(host: string, group: string, parents?: string[]): void;
  /** `meta: refresh_inventory`: read the sources again (absent: the inventory cannot be reloaded). */
  refresh?(): Promise<void>;
}

export interface TemplateEngine {
  template(value: unknown, vars: VarLookup): unknown;
  evaluate(expr: string, vars: VarLookup): unknown;
  condition(expr: unknown, vars: VarLookup): boolean;
  renderTemplateFile(text: string, vars: VarLookup, opts: { path: string }): string;
}

export interface Connector {
  /** The open connection for a host, reusing one per host for the whole run. */
  connect(spec: ConnectionSpec): Promise<Connection>;
  /** Forget a host's connection (after a reboot or a failure). */
  drop(host: string): Promise<void>;
  closeAll(): Promise<void>;
}

export interface SpecResolver {
  /** Connection details for a host from its (templated) variables and the CLI. */
  specFor(host: string, vars: VarLookup): ConnectionSpec;
}

export interface TaskLoader {
  loadTasksFile(file: string, origin: TaskOrigin): Promise<PlayNode[]>;
  loadRole(
    name: string,
    fromDir: string,
    params: Record<string, unknown>,
    pos: TaskOrigin,
  ): Promise<RoleInstance>;
  loadVarsFile(file: string): Promise<Record<string, unknown>>;
}
