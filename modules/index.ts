/**
 * The module registry: every module by every name it answers to (short, ansible.builtin.*,
 * and the usual collection names).
 */
import { commandsModules } from './commands/index.js';
import { filesModules } from './files/index.js';
import { netModules } from './net/index.js';
import { packagesModules } from './packages/index.js';
import { systemModules } from './system/index.js';
import type { AnyModule } from './types.js';

const all: AnyModule[] = [
  ...commandsModules,
  ...filesModules,
  ...systemModules,
  ...packagesModules,
  ...netModules,
];

const byName = new Map<string, AnyModule>();
for (const m of all) for (const n of m.names) byName.set(n, m);

export function findModule(name: string): AnyModule | undefined {
  return byName.get(name);
}

export function moduleNames(): string[] {
  return [...byName.keys()];
}

export function allModules(): readonly AnyModule[] {
  return all;
}
