/**
 * Ansible's variable precedence for one host and one task, as an ordered list of layers
 * looked up highest first (hash_behaviour=replace: the first layer that has a name wins).
 * Values are raw; the template engine resolves templates in them lazily when they are read.
 *
 *  22 extra vars > 21 include params > 20 role params > 19 set_fact/register >
 *  18 include_vars > 17 task vars > 16 block vars > 15 role vars > 14 vars_files >
 *  13 vars_prompt > 12 play vars > 11 facts > 3..10 inventory > 2 role defaults
 */
import type { RoleInstance } from '../playbook/types.js';

export type Layer = Readonly<Record<string, unknown>>;

export interface HostState {
  name: string;
  facts: Record<string, unknown>;
  /** set_fact and register results (level 19); persists across plays. */
  hostFacts: Record<string, unknown>;
  /** include_vars results (level 18); persists across plays. */
  includeVars: Record<string, unknown>;
  failed: boolean;
  unreachable: boolean;
  /** meta: end_host / end_play for this host. */
  ended: boolean;
  notified: Set<string>;
  /** The last failed task and its result, for ansible_failed_task/_result in rescue. */
  lastFailure?: { task: Record<string, unknown>; result: unknown };
}

export function newHostState(name: string): HostState {
  return {
    name,
    facts: {},
    hostFacts: {},
    includeVars: {},
    failed: false,
    unreachable: false,
    ended: false,
    notified: new Set(),
  };
}

/** Layers that come from where a task sits: its role chain, blocks, includes and loop. */
export interface TaskScope {
  /** Role stack, innermost last (role vars and defaults of each apply). */
  roles: RoleInstance[];
  /** include_tasks/include_role `vars:` and loop variables (level 21), innermost last. */
  includeParams: Layer[];
  /** ansible_parent_role_names inside a role run by include_role/import_role from a role, nearest first. */
  parentRoleNames?: string[];
}

export const EMPTY_SCOPE: TaskScope = { roles: [], includeParams: [] };

export interface PlayLayers {
  extraVars: Layer;
  playVars: Layer;
  varsPrompt: Layer;
  /** vars_files, resolved per host (they may be templated with host vars). */
  varsFiles: (host: string) => Layer;
  magic: (host: string) => Layer;
  inventory: (host: string) => Layer;
}

/** Facts as Ansible injects them: ansible_facts plus each fact as ansible_<name>. */
export function factLayer(facts: Record<string, unknown>): Layer {
  const out: Record<string, unknown> = { ansible_facts: facts };
  for (const [k, v] of Object.entries(facts)) out[k.startsWith('ansible_') ? k : `ansible_${k}`] = v;
  return out;
}

/**
 * The ordered layers for one host running one task, highest precedence first.
 * `taskVars` holds block and task `vars:` merged outer-first (the loader merges them).
 */
export function taskLayers(
  play: PlayLayers,
  host: HostState,
  scope: TaskScope,
  taskVars: Layer | undefined,
  facts: Layer,
): Layer[] {
  const layers: Layer[] = [play.magic(host.name), play.extraVars];
  for (let i = scope.includeParams.length - 1; i >= 0; i--) layers.push(scope.includeParams[i]!);
  for (let i = scope.roles.length - 1; i >= 0; i--) layers.push(scope.roles[i]!.params);
  layers.push(host.hostFacts, host.includeVars);
  if (taskVars) layers.push(taskVars);
  for (let i = scope.roles.length - 1; i >= 0; i--) layers.push(scope.roles[i]!.vars);
  layers.push(play.varsFiles(host.name), play.varsPrompt, play.playVars, facts, play.inventory(host.name));
  for (let i = scope.roles.length - 1; i >= 0; i--) layers.push(scope.roles[i]!.defaults);
  return layers;
}

/** A lookup over layers; `vars` itself is exposed as a view over the same layers. */
export function lookupOver(layers: Layer[]): (name: string) => unknown {
  const lookup = (name: string): unknown => {
    for (const l of layers) {
      if (Object.hasOwn(l, name)) return l[name];
    }
    if (name === 'vars') return varsView(layers);
    return undefined;
  };
  return lookup;
}

function varsView(layers: Layer[]): Record<string, unknown> {
  return new Proxy(
    {},
    {
      get(_t, prop) {
        if (typeof prop !== 'string') return undefined;
        for (const l of layers) if (Object.hasOwn(l, prop)) return l[prop];
        return undefined;
      },
      has(_t, prop) {
        return typeof prop === 'string' && layers.some((l) => Object.hasOwn(l, prop));
      },
      ownKeys() {
        const keys = new Set<string>();
        for (const l of layers) for (const k of Object.keys(l)) keys.add(k);
        return [...keys];
      },
      getOwnPropertyDescriptor(_t, prop) {
        if (typeof prop !== 'string') return undefined;
        for (const l of layers)
          if (Object.hasOwn(l, prop))
            return { value: l[prop], enumerable: true, configurable: true, writable: false };
        return undefined;
      },
    },
  );
}
