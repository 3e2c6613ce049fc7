/**
 * Planning: refresh (read every object), then expand each resource block (count/for_each),
 * evaluate its attributes and compare with state. The result says, per instance, create /
 * update / replace (naming the attribute that forces it) / delete / read, as Terraform does.
 */
import { didYouMean, ProblemList, type SourcePos } from '../errors.js';
import { attrTypeError, type ResourceConfig } from './config.js';
import { type Evaluator, type InstanceKey, type InstanceVars, isUnknown, UNKNOWN } from './evaluate.js';
import type { ConfigGraph } from './graph.js';
import type { Attrs, AttrValue, ResourceType } from './provider.js';
import type { State, StateInstance } from './state.js';

export type Action = 'create' | 'update' | 'replace' | 'delete' | 'read' | 'noop';

export interface PlannedChange {
  address: string;
  /** Resource node id (config-level address with module prefix). */
  nodeId: string;
  mode: 'managed' | 'data';
  type: string;
  name: string;
  module: string;
  indexKey: InstanceKey;
  action: Action;
  prior?: StateInstance;
  before?: Attrs;
  /** Planned values; unknown ones hold the UNKNOWN marker. */
  after?: Attrs;
  forcedBy: string[];
  changed: string[];
  reason?: string;
  createBeforeDestroy: boolean;
  dependencies: string[];
  sensitive: string[];
  /** A data source read during plan: its result. */
  readResult?: Attrs;
  inst: InstanceVars;
}

export interface OutputChange {
  name: string;
  before?: AttrValue;
  after?: AttrValue;
  sensitive: boolean;
  action: 'create' | 'update' | 'delete' | 'noop';
}

export interface Plan {
  changes: PlannedChange[];
  outputs: OutputChange[];
  /** Objects refresh found deleted or changed outside drover. */
  drift: { address: string; what: 'deleted' | 'changed' }[];
  refreshOnly: boolean;
  destroy: boolean;
}

export interface PlanOptions {
  targets: string[];
  replace: string[];
  destroy: boolean;
  refreshOnly: boolean;
}

export function instanceAddress(prefix: string, localKey: string, key: InstanceKey): string {
  return `${prefix}${localKey}${key === null ? '' : typeof key === 'number' ? `[${key}]` : `[${JSON.stringify(key)}]`}`;
}

/** `T.N`, `data.T.N` plus module prefix from an instance address. */
export function configAddress(address: string): string {
  return address.replace(/\[(?:\d+|"(?:[^"\\]|\\.)*")\]$/, '');
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

function norm(v: unknown): unknown {
  if (v === undefined) return null;
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, norm((v as Record<string, unknown>)[k])]),
    );
  return v;
}

/** Config values coerced to the schema's types (a number given as "3" is 3). */
export function coerceConfig(rt: ResourceType, config: Record<string, unknown>): Attrs {
  const out: Attrs = {};
  for (const [k, v] of Object.entries(config)) {
    const t = rt.schema.attributes[k]?.type;
    if (v === undefined) continue;
    if (typeof v === 'string' && isUnknown(v)) out[k] = UNKNOWN;
    else if (t === 'number' && typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)))
      out[k] = Number(v);
    else if (t === 'string' && (typeof v === 'number' || typeof v === 'boolean')) out[k] = String(v);
    else if (isUnknown(v)) out[k] = UNKNOWN;
    else out[k] = v as AttrValue;
  }
  return out;
}

export interface PlanContext {
  graph: ConfigGraph;
  ev: Evaluator;
  types: { managed: Map<string, ResourceType>; data: Map<string, ResourceType> };
  /** Reads a data source now (known config). */
  readData(rt: ResourceType, config: Attrs, address: string): Promise<Attrs>;
}

/** Expansion keys of a resource block; problems when count/for_each is invalid or unknown. */
function expand(
  ctx: PlanContext,
  r: ResourceConfig,
  id: string,
  problems: ProblemList,
): InstanceKey[] | undefined {
  const mod = ctx.graph.nodes.get(id)!.module;
  /** The value of `count` / `for_each`, which must be known at plan time; undefined after a problem. */
  const known = (key: 'count' | 'for_each', expr: unknown): { v: unknown } | undefined => {
    const pos = r.attrPos[key] ?? r.pos;
    let v: unknown;
    try {
      v = ctx.ev.eval(mod, expr);
    } catch (e) {
      problems.add(`${id}: ${key}: ${(e as Error).message}`, pos);
      return undefined;
    }
    if (isUnknown(v)) {
      problems.add(
        `${id}: the ${key} value depends on resource attributes that cannot be determined until apply`,
        pos,
        'create what it depends on first (-target), or compute it from variables',
      );
      return undefined;
    }
    return { v };
  };
  if (r.count !== undefined) {
    const got = known('count', r.count);
    if (!got) return undefined;
    const n = got.v;
    const num = typeof n === 'string' && n.trim() !== '' ? Number(n) : n;
    if (typeof num !== 'number' || !Number.isInteger(num) || num < 0) {
      problems.add(
        `${id}: invalid count ${JSON.stringify(n)}: must be a whole number >= 0`,
        r.attrPos.count ?? r.pos,
      );
      return undefined;
    }
    ctx.ev.expansions.set(id, { kind: 'count', keys: Array.from({ length: num }, (_, i) => i) });
    return ctx.ev.expansions.get(id)!.keys;
  }
  if (r.forEach !== undefined) {
    const got = known('for_each', r.forEach);
    if (!got) return undefined;
    const v = got.v;
    const each = new Map<string, unknown>();
    if (Array.isArray(v)) {
      for (const x of v) {
        if (typeof x !== 'string') {
          problems.add(
            `${id}: for_each over a list needs strings, got ${JSON.stringify(x)}`,
            r.attrPos.for_each ?? r.pos,
          );
          return undefined;
        }
        each.set(x, x);
      }
    } else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) each.set(k, x);
    else {
      problems.add(
        `${id}: for_each must be a map or a list of strings, not ${JSON.stringify(v)}`,
        r.attrPos.for_each ?? r.pos,
      );
      return undefined;
    }
    const keys = [...each.keys()].sort();
    ctx.ev.expansions.set(id, { kind: 'for_each', keys, each });
    return keys;
  }
  ctx.ev.expansions.set(id, { kind: 'single', keys: [null] });
  return [null];
}

export function instVars(ctx: PlanContext, id: string, key: InstanceKey): InstanceVars {
  const exp = ctx.ev.expansions.get(id);
  if (exp?.kind === 'count') return { count: key as number };
  if (exp?.kind === 'for_each') return { each: { key: String(key), value: exp.each?.get(String(key)) } };
  return {};
}

/** Evaluates a resource instance's attributes; problems carry the attribute's position. */
export function evalBody(
  ctx: PlanContext,
  r: ResourceConfig,
  id: string,
  inst: InstanceVars,
  problems: ProblemList,
): Record<string, unknown> | undefined {
  const mod = ctx.graph.nodes.get(id)!.module;
  const out: Record<string, unknown> = {};
  let ok = true;
  const rt = (r.mode === 'data' ? ctx.types.data : ctx.types.managed).get(r.type)!;
  for (const [k, v] of Object.entries(r.body)) {
    try {
      const val = ctx.ev.eval(mod, v, inst);
      const t = rt.schema.attributes[k]?.type;
      if (t && !isUnknown(val) && val !== null) {
        const err = attrTypeError(t, val);
        if (err) {
          problems.add(
            `${instanceAddress(r.modulePrefix, r.localKey, keyOf(inst))}: attribute '${k}' ${err}`,
            r.attrPos[k] ?? r.pos,
          );
          ok = false;
        }
      }
      out[k] = val;
    } catch (e) {
      problems.add(
        `${instanceAddress(r.modulePrefix, r.localKey, keyOf(inst))}: attribute '${k}': ${(e as Error).message}`,
        r.attrPos[k] ?? r.pos,
      );
      ok = false;
    }
  }
  if (ok && rt.validate) {
    const known = Object.fromEntries(Object.entries(out).filter(([, v]) => !isUnknown(v))) as Attrs;
    for (const p of rt.validate(known)) {
      problems.add(
        `${instanceAddress(r.modulePrefix, r.localKey, keyOf(inst))}: ${p.message}`,
        (p.attribute && r.attrPos[p.attribute]) || r.pos,
      );
      ok = false;
    }
  }
  return ok ? out : undefined;
}

function keyOf(inst: InstanceVars): InstanceKey {
  return inst.count !== undefined ? inst.count : inst.each ? inst.each.key : null;
}

/** Planned attributes of a create: config + defaults + what the provider knows; the rest unknown. */
export function plannedCreate(rt: ResourceType, config: Attrs, prior?: Attrs): Attrs {
  const known = Object.fromEntries(Object.entries(config).filter(([, v]) => !isUnknown(v))) as Attrs;
  const planned: Attrs = rt.plan ? rt.plan(known, prior) : { ...known };
  for (const [k, s] of Object.entries(rt.schema.attributes)) {
    if (config[k] !== undefined && isUnknown(config[k])) planned[k] = UNKNOWN;
    else if (planned[k] === undefined && s.computed) planned[k] = UNKNOWN;
    else if (planned[k] === undefined && s.default !== undefined) planned[k] = s.default;
  }
  return planned;
}

/** Resolves -target / -replace addresses against config and state; returns node ids or instance addresses. */
export function checkAddresses(
  list: string[],
  flag: string,
  graph: ConfigGraph,
  state: State,
  problems: ProblemList,
): void {
  const known = new Set<string>(
    [...graph.nodes.values()].filter((n) => n.kind === 'resource').map((n) => n.id),
  );
  for (const p of graph.modules.keys()) if (p) known.add(p.slice(0, -1));
  for (const i of state.resources) {
    known.add(i.address);
    known.add(configAddress(i.address));
  }
  const cli: SourcePos = { file: `(command line ${flag})`, line: 1, col: 1 };
  for (const a of list) {
    if (known.has(a) || known.has(configAddress(a))) continue;
    const s = didYouMean(a, known);
    problems.add(
      `${flag}=${a}: no resource at this address in the configuration or the state`,
      cli,
      s ? `did you mean '${s}'?` : 'addresses look like local_file.name, command.x[0], module.m.random_id.y',
    );
  }
}

function matchesTarget(address: string, targets: string[]): boolean {
  return targets.some(
    (t) =>
      address === t ||
      configAddress(address) === t ||
      address.startsWith(`${t}.`) ||
      address.startsWith(`${t}[`),
  );
}

export async function makePlan(ctx: PlanContext, state: State, opts: PlanOptions): Promise<Plan> {
  const problems = new ProblemList();
  const { graph, ev } = ctx;
  const changes: PlannedChange[] = [];
  const byNode = new Map<string, StateInstance[]>();
  for (const i of state.resources) {
    if (i.deposed) continue;
    const id = configAddress(i.address);
    if (!byNode.has(id)) byNode.set(id, []);
    byNode.get(id)!.push(i);
    ev.setInstance(id, i.index_key, i.attributes);
  }
  // Targets pull in what they depend on (create/update) or what depends on them (destroy).
  let targetNodes: Set<string> | undefined;
  if (opts.targets.length > 0) {
    targetNodes = new Set();
    const all = [...graph.nodes.values()].filter((n) => n.kind === 'resource');
    for (const n of all)
      if (matchesTarget(n.id, opts.targets) || opts.targets.some((t) => n.id.startsWith(`${t}.`)))
        targetNodes.add(n.id);
    if (opts.destroy) {
      let grew = true;
      while (grew) {
        grew = false;
        for (const n of all)
          if (!targetNodes.has(n.id) && [...graph.resourceDeps(n.id)].some((d) => targetNodes!.has(d))) {
            targetNodes.add(n.id);
            grew = true;
          }
        for (const i of state.resources) {
          const id = configAddress(i.address);
          if (!targetNodes.has(id) && i.dependencies.some((d) => targetNodes!.has(d))) {
            targetNodes.add(id);
            grew = true;
          }
        }
      }
    } else for (const id of [...targetNodes]) for (const d of graph.resourceDeps(id)) targetNodes.add(d);
  }
  const inTarget = (address: string) =>
    !targetNodes ||
    targetNodes.has(configAddress(address)) ||
    (opts.targets.length > 0 && matchesTarget(address, opts.targets));
  const replaced = new Set<string>();
  const updated = new Set<string>();

  if (!opts.destroy && !opts.refreshOnly) {
    for (const id of graph.topo()) {
      const node = graph.nodes.get(id)!;
      if (node.kind !== 'resource') continue;
      const r = node.resource!;
      const rt = (r.mode === 'data' ? ctx.types.data : ctx.types.managed).get(r.type)!;
      const keys = expand(ctx, r, id, problems);
      if (!keys) continue;
      const deps = [...graph.resourceDeps(id)].sort();
      const prior = new Map((byNode.get(id) ?? []).map((i) => [JSON.stringify(i.index_key), i]));
      const sensitive = Object.entries(rt.schema.attributes)
        .filter(([, s]) => s.sensitive)
        .map(([k]) => k);
      for (const key of keys) {
        const address = instanceAddress(r.modulePrefix, r.localKey, key);
        const inst = instVars(ctx, id, key);
        const p = prior.get(JSON.stringify(key));
        prior.delete(JSON.stringify(key));
        const base = {
          address,
          nodeId: id,
          mode: r.mode,
          type: r.type,
          name: r.name,
          module: r.modulePrefix.replace(/\.$/, ''),
          indexKey: key,
          createBeforeDestroy: r.lifecycle.createBeforeDestroy,
          dependencies: deps,
          sensitive,
          inst,
          forcedBy: [] as string[],
          changed: [] as string[],
        };
        if (!inTarget(address)) {
          if (p)
            changes.push({ ...base, action: 'noop', prior: p, before: p.attributes, after: p.attributes });
          continue;
        }
        const body = evalBody(ctx, r, id, inst, problems);
        if (!body) continue;
        const config = coerceConfig(rt, body);
        if (r.mode === 'data') {
          if (isUnknown(config)) {
            const after = plannedCreate(rt, config);
            ev.setInstance(id, key, after);
            changes.push({ ...base, action: 'read', after, reason: 'config refers to values not yet known' });
          } else {
            try {
              const result = await ctx.readData(rt, config, address);
              ev.setInstance(id, key, result);
              changes.push({ ...base, action: 'noop', after: result, readResult: result });
            } catch (e) {
              problems.add(`${address}: reading the data source failed: ${(e as Error).message}`, r.pos);
            }
          }
          continue;
        }
        for (const [k, s] of Object.entries(rt.schema.attributes))
          if (s.required && (config[k] === undefined || config[k] === null))
            problems.add(
              `${address}: attribute '${k}' is required but evaluated to null`,
              r.attrPos[k] ?? r.pos,
            );
        if (!p) {
          const after = plannedCreate(rt, config);
          ev.setInstance(id, key, after);
          changes.push({ ...base, action: 'create', after });
          continue;
        }
        if (p.status) {
          const after = plannedCreate(rt, config);
          ev.setInstance(id, key, after);
          replaced.add(id);
          changes.push({
            ...base,
            action: 'replace',
            prior: p,
            before: p.attributes,
            after,
            reason:
              p.status === 'creating'
                ? 'its create was interrupted: whatever it made is destroyed and created again'
                : p.status === 'deleting'
                  ? 'its destroy was interrupted'
                  : 'it is tainted',
          });
          continue;
        }
        // Compare arguments with state.
        const ignore = r.lifecycle.ignoreChanges;
        const planned = plannedCreate(rt, config);
        const changed: string[] = [];
        for (const [k, s] of Object.entries(rt.schema.attributes)) {
          if (!(s.required || s.optional)) continue;
          if (ignore === 'all' || ignore.includes(k)) {
            planned[k] = p.attributes[k] ?? null;
            continue;
          }
          // Optional + computed and left unset: the value the provider chose stands (as in Terraform).
          // (A replacement still shows it as known after apply.)
          if (s.computed && (config[k] === undefined || config[k] === null)) continue;
          const want = config[k] !== undefined ? config[k] : (s.default ?? null);
          if (isUnknown(want) || !sameValue(want, p.attributes[k])) changed.push(k);
        }
        const forcedBy = changed.filter((k) => rt.schema.attributes[k]?.forceNew || !rt.update);
        let reason: string | undefined;
        if (opts.replace.some((a) => a === address || (a === id && keys.length === 1)))
          reason = 'replacement requested with -replace';
        else {
          const trig = r.lifecycle.replaceTriggeredBy.find((t) => {
            const tid = `${r.modulePrefix}${configAddress(
              t
                .split('.')
                .slice(0, t.startsWith('data.') ? 3 : 2)
                .join('.'),
            )}`;
            return replaced.has(tid) || (t.split('.').length > 2 && updated.has(tid));
          });
          if (trig) reason = `replace_triggered_by ${trig}`;
        }
        if (forcedBy.length > 0 || reason) {
          ev.setInstance(id, key, planned);
          replaced.add(id);
          changes.push({
            ...base,
            action: 'replace',
            prior: p,
            before: p.attributes,
            after: planned,
            forcedBy,
            changed,
            ...(reason ? { reason } : {}),
          });
        } else if (changed.length > 0) {
          // In place: the provider sees the prior object and may keep computed values (an id, a port).
          const inPlace = plannedCreate(rt, config, p.attributes);
          const after: Attrs = { ...p.attributes };
          for (const k of changed) after[k] = inPlace[k] ?? null;
          for (const [k, s] of Object.entries(rt.schema.attributes))
            if (s.computed && inPlace[k] !== undefined && !(s.required || s.optional)) after[k] = inPlace[k]!;
          ev.setInstance(id, key, after);
          updated.add(id);
          changes.push({ ...base, action: 'update', prior: p, before: p.attributes, after, changed });
        } else {
          changes.push({ ...base, action: 'noop', prior: p, before: p.attributes, after: p.attributes });
        }
      }
      // Instances beyond the new count / removed keys.
      for (const p of prior.values()) {
        if (!inTarget(p.address)) continue;
        ev.setInstance(id, p.index_key, undefined);
        changes.push(deleteChange(p, 'no longer in the count / for_each'));
      }
    }
  }
  // State entries whose block is gone from config (or everything, for destroy).
  const planned = new Set(changes.map((c) => c.address));
  for (const i of state.resources) {
    if (planned.has(i.address) && !i.deposed) continue;
    if (opts.refreshOnly) continue;
    if (!inTarget(i.address)) continue;
    if (!(i.mode === 'data' ? ctx.types.data : ctx.types.managed).has(i.type)) {
      problems.add(
        `the state holds ${i.address}, of type '${i.type}' that no provider of this drover knows, and its block is gone`,
        { file: '(state)', line: 1, col: 1 },
        `if the object is gone or managed elsewhere: drover infra state rm '${i.address}'`,
      );
      continue;
    }
    if (i.mode === 'data') {
      changes.push({ ...deleteChange(i, ''), action: 'noop' });
      continue;
    }
    changes.push(
      deleteChange(
        i,
        i.deposed
          ? 'a deposed object left by an interrupted replace'
          : opts.destroy
            ? ''
            : 'its block is no longer in the configuration',
      ),
    );
  }
  // prevent_destroy
  for (const c of changes) {
    if (c.action !== 'delete' && c.action !== 'replace') continue;
    const node = graph.nodes.get(c.nodeId);
    if (node?.resource?.lifecycle.preventDestroy)
      problems.add(
        `${c.address} has lifecycle.prevent_destroy set, but the plan would destroy it${c.forcedBy.length ? ` (${c.forcedBy.join(', ')} forces replacement)` : ''}`,
        node.resource.attrPos.lifecycle ?? node.pos,
        'remove prevent_destroy from its lifecycle first, or change the plan (e.g. -target other resources)',
      );
  }
  problems.throwIfAny();
  // Outputs (root module only).
  const outputs: OutputChange[] = [];
  const root = graph.root;
  const outProblems = new ProblemList();
  for (const o of root.outputs.values()) {
    const before = state.outputs[o.name]?.value;
    if (opts.destroy) {
      if (before !== undefined)
        outputs.push({ name: o.name, before, sensitive: o.sensitive, action: 'delete' });
      continue;
    }
    let after: AttrValue;
    try {
      after = ev.outputValue(root, o.name) as AttrValue;
    } catch (e) {
      outProblems.add(`output '${o.name}': ${(e as Error).message}`, o.pos);
      continue;
    }
    const action =
      before === undefined ? 'create' : isUnknown(after) || !sameValue(before, after) ? 'update' : 'noop';
    outputs.push({
      name: o.name,
      ...(before !== undefined ? { before } : {}),
      after,
      sensitive: o.sensitive,
      action,
    });
  }
  for (const name of Object.keys(state.outputs))
    if (!root.outputs.has(name))
      outputs.push({
        name,
        before: state.outputs[name]!.value,
        sensitive: state.outputs[name]!.sensitive,
        action: 'delete',
      });
  if (!opts.refreshOnly) outProblems.throwIfAny();
  return { changes, outputs, drift: [], refreshOnly: opts.refreshOnly, destroy: opts.destroy };
}

function deleteChange(i: StateInstance, reason: string): PlannedChange {
  return {
    address: i.address,
    nodeId: configAddress(i.address),
    mode: i.mode,
    type: i.type,
    name: i.name,
    module: i.module,
    indexKey: i.index_key,
    action: 'delete',
    prior: i,
    before: i.attributes,
    forcedBy: [],
    changed: [],
    ...(reason ? { reason } : {}),
    createBeforeDestroy: i.create_before_destroy ?? false,
    dependencies: i.dependencies,
    sensitive: i.sensitive_attributes,
    inst: {},
  };
}

export function countChanges(plan: Plan): { add: number; change: number; destroy: number; read: number } {
  let add = 0;
  let change = 0;
  let destroy = 0;
  let read = 0;
  for (const c of plan.changes) {
    if (c.action === 'create') add++;
    else if (c.action === 'update') change++;
    else if (c.action === 'delete') destroy++;
    else if (c.action === 'replace') {
      add++;
      destroy++;
    } else if (c.action === 'read') read++;
  }
  return { add, change, destroy, read };
}

export function hasChanges(plan: Plan): boolean {
  const n = countChanges(plan);
  return (
    n.add + n.change + n.destroy + n.read > 0 ||
    plan.outputs.some((o) => o.action !== 'noop') ||
    (plan.refreshOnly && plan.drift.length > 0)
  );
}
