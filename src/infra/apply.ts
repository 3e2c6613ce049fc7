/**
 * Applying a plan: a walk over instance operations in dependency order (creates and updates
 * after what they depend on, destroys before what they depend on), at most `parallelism` at a
 * time. State is saved after every change; a create is first recorded as `creating`, so a crash
 * in the middle leaves an entry the next apply destroys and creates again (nothing orphaned,
 * nothing created twice). A failure stops only what depends on it; an interrupt stops starting
 * new operations, lets running ones finish and saves state.
 */

import { ProblemList } from '../errors.js';
import type { ModuleConfig } from './config.js';
import { isUnknown } from './evaluate.js';
import {
  coerceConfig,
  configAddress,
  evalBody,
  type Plan,
  type PlanContext,
  type PlannedChange,
  plannedCreate,
} from './plan.js';
import type { Attrs, AttrValue, ProviderContext, ResourceType } from './provider.js';
import { type State, type StateInstance, sortInstances } from './state.js';

export interface ApplyHooks {
  /** Persist the state (atomic write); called after every change. */
  save(state: State): Promise<void>;
  log(line: string): void;
  signal: AbortSignal;
  parallelism: number;
  providerContext(address: string): ProviderContext;
}

export interface ApplyResult {
  state: State;
  errors: { address: string; message: string }[];
  interrupted: boolean;
  counts: { added: number; changed: number; destroyed: number };
}

interface Op {
  id: string;
  kind: 'create' | 'update' | 'delete' | 'read';
  change: PlannedChange;
  deps: Set<string>;
  /** delete half of a replace. */
  replaceHalf?: boolean;
}

const HEARTBEAT_MS = 10_000;

function elapsed(start: number): string {
  return `${Math.round((Date.now() - start) / 1000)}s`;
}

export async function applyPlan(
  ctx: PlanContext,
  plan: Plan,
  state: State,
  hooks: ApplyHooks,
): Promise<ApplyResult> {
  const ops = new Map<string, Op>();
  const add = (op: Op) => ops.set(op.id, op);
  const instancesOf = new Map<string, PlannedChange[]>();
  for (const c of plan.changes) {
    if (!instancesOf.has(c.nodeId)) instancesOf.set(c.nodeId, []);
    instancesOf.get(c.nodeId)!.push(c);
  }
  const tag = (c: PlannedChange) => `${c.address}${c.prior?.deposed ? ` (deposed ${c.prior.deposed})` : ''}`;
  for (const c of plan.changes) {
    switch (c.action) {
      case 'create':
      case 'update':
        add({
          id: `${c.action === 'create' ? 'create' : 'update'}:${tag(c)}`,
          kind: c.action,
          change: c,
          deps: new Set(),
        });
        break;
      case 'read':
        add({ id: `read:${tag(c)}`, kind: 'read', change: c, deps: new Set() });
        break;
      case 'delete':
        add({ id: `delete:${tag(c)}`, kind: 'delete', change: c, deps: new Set() });
        break;
      case 'replace':
        add({ id: `create:${tag(c)}`, kind: 'create', change: c, deps: new Set() });
        add({ id: `delete:${tag(c)}`, kind: 'delete', change: c, deps: new Set(), replaceHalf: true });
        break;
      default:
        // A data source read during plan is stored with the rest.
        if (c.readResult) add({ id: `read:${tag(c)}`, kind: 'read', change: c, deps: new Set() });
        break;
    }
  }
  // Edges.
  const writersOf = (nodeId: string) =>
    (instancesOf.get(nodeId) ?? [])
      .flatMap((d) => [`create:${tag(d)}`, `update:${tag(d)}`, `read:${tag(d)}`])
      .filter((x) => ops.has(x));
  for (const op of ops.values()) {
    const c = op.change;
    if (op.kind === 'create' || op.kind === 'update' || op.kind === 'read') {
      for (const dep of c.dependencies) for (const w of writersOf(dep)) op.deps.add(w);
      // A non-create_before_destroy replace destroys the old object first.
      if (op.kind === 'create' && c.action === 'replace' && !c.createBeforeDestroy)
        op.deps.add(`delete:${tag(c)}`);
    } else {
      // Destroy dependents first: any instance (in state) whose dependencies name this node.
      for (const other of ops.values()) {
        if (other.kind !== 'delete' || other === op) continue;
        if (
          other.change.dependencies.includes(c.nodeId) ||
          other.change.prior?.dependencies.includes(c.nodeId)
        )
          op.deps.add(other.id);
      }
      if (op.replaceHalf && c.createBeforeDestroy) {
        op.deps.add(`create:${tag(c)}`);
        // Dependents switch to the new object before the old one goes.
        for (const other of ops.values())
          if (
            (other.kind === 'update' || other.kind === 'create') &&
            other.change.dependencies.includes(c.nodeId)
          )
            op.deps.add(other.id);
      }
    }
  }
  // Break edges that point to nothing (a dependency with no operation).
  for (const op of ops.values()) for (const d of [...op.deps]) if (!ops.has(d)) op.deps.delete(d);

  const errors: { address: string; message: string }[] = [];
  const counts = { added: 0, changed: 0, destroyed: 0 };
  // Every change is durable before the operation that made it goes on; changes made while a
  // write is in flight go out together in the next one (a snapshot of everything so far).
  let waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  let writer: Promise<void> | undefined;
  const pump = async (): Promise<void> => {
    while (waiting.length > 0) {
      const batch = waiting;
      waiting = [];
      state.serial++;
      const snapshot: State = { ...state, resources: sortInstances([...state.resources]) };
      try {
        await hooks.save(snapshot);
        for (const w of batch) w.resolve();
      } catch (e) {
        for (const w of batch) w.reject(e);
      }
    }
    writer = undefined;
  };
  const persist = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ resolve, reject });
      writer ??= pump();
    });
  const findIdx = (address: string, deposed?: string) =>
    state.resources.findIndex(
      (i) => i.address === address && (i.deposed ?? undefined) === (deposed ?? undefined),
    );
  const rtOf = (c: PlannedChange): ResourceType =>
    (c.mode === 'data' ? ctx.types.data : ctx.types.managed).get(c.type)!;

  const run = async (op: Op): Promise<void> => {
    const c = op.change;
    const pctx = hooks.providerContext(c.address);
    const rt = rtOf(c);
    const start = Date.now();
    if (op.kind === 'delete') {
      const prior = c.prior!;
      hooks.log(
        `${c.address}: Destroying...${prior.attributes.id ? ` [id=${String(prior.attributes.id)}]` : ''}`,
      );
      // Recorded first: a crash during the destroy must not leave the object "present" in state.
      let entry = state.resources.indexOf(prior);
      if (entry >= 0 && prior.status !== 'deleting' && prior.status !== 'creating') {
        const marked: StateInstance = { ...prior, status: 'deleting' };
        state.resources[entry] = marked;
        c.prior = marked;
        await persist();
      }
      await rt.delete(prior.attributes, pctx);
      entry = state.resources.indexOf(c.prior!);
      if (entry >= 0) state.resources.splice(entry, 1);
      await persist();
      if (!op.replaceHalf) {
        ctx.ev.setInstance(c.nodeId, c.indexKey, undefined);
        counts.destroyed++;
      } else counts.destroyed++;
      hooks.log(`${c.address}: Destruction complete after ${elapsed(start)}`);
      return;
    }
    // Evaluate the config again now that what it depends on exists.
    const node = ctx.graph.nodes.get(c.nodeId);
    let config: Attrs;
    if (op.kind === 'read' && c.readResult) {
      config = c.readResult;
    } else {
      const problems = new ProblemList();
      const body = node?.resource ? evalBody(ctx, node.resource, c.nodeId, c.inst, problems) : undefined;
      if (!body)
        throw new Error(
          problems.errors.map((p) => p.message).join('; ') || 'cannot evaluate its configuration',
        );
      config = coerceConfig(rt, body);
      if (isUnknown(config))
        throw new Error('its configuration still refers to unknown values (a dependency failed?)');
      const ignore = node?.resource?.lifecycle.ignoreChanges ?? [];
      if (op.kind === 'update' && c.prior)
        for (const k of ignore === 'all' ? Object.keys(config) : ignore)
          if (c.prior.attributes[k] !== undefined) config[k] = c.prior.attributes[k]!;
    }
    if (op.kind === 'read') {
      hooks.log(`${c.address}: Reading...`);
      const result = c.readResult ?? (await rt.create(config, pctx));
      ctx.ev.setInstance(c.nodeId, c.indexKey, result);
      upsert({ ...baseInstance(c, result), mode: 'data' });
      await persist();
      hooks.log(`${c.address}: Read complete after ${elapsed(start)}`);
      return;
    }
    if (op.kind === 'update') {
      hooks.log(
        `${c.address}: Modifying...${c.prior?.attributes.id ? ` [id=${String(c.prior.attributes.id)}]` : ''}`,
      );
      const result = await rt.update!(c.prior!.attributes, config, pctx);
      ctx.ev.setInstance(c.nodeId, c.indexKey, result);
      upsert(baseInstance(c, result));
      await persist();
      counts.changed++;
      hooks.log(
        `${c.address}: Modifications complete after ${elapsed(start)}${result.id ? ` [id=${String(result.id)}]` : ''}`,
      );
      return;
    }
    // create (or the create half of a replace)
    if (c.action === 'replace' && c.createBeforeDestroy && c.prior && !c.prior.deposed) {
      const i = state.resources.indexOf(c.prior);
      if (i >= 0) {
        const deposed = { ...c.prior, deposed: Math.random().toString(16).slice(2, 10) };
        state.resources[i] = deposed;
        c.prior = deposed;
      }
    }
    hooks.log(`${c.address}: Creating...`);
    const pending: StateInstance = {
      ...baseInstance(c, knownOnly(plannedCreate(rt, config))),
      status: 'creating',
    };
    upsert(pending);
    await persist();
    let result: Attrs;
    try {
      result = await rt.create(config, pctx);
    } catch (e) {
      const i = state.resources.indexOf(pending);
      if (i >= 0) state.resources.splice(i, 1);
      await persist();
      throw e;
    }
    ctx.ev.setInstance(c.nodeId, c.indexKey, result);
    upsert(baseInstance(c, result));
    await persist();
    counts.added++;
    hooks.log(
      `${c.address}: Creation complete after ${elapsed(start)}${result.id ? ` [id=${String(result.id)}]` : ''}`,
    );
  };

  const upsert = (inst: StateInstance) => {
    const i = findIdx(inst.address);
    if (i >= 0) state.resources[i] = inst;
    else state.resources.push(inst);
  };

  // The walk.
  const done = new Set<string>();
  const failed = new Set<string>();
  const running = new Map<string, Promise<void>>();
  let interrupted = false;
  const ready = (op: Op) => [...op.deps].every((d) => done.has(d));
  const blocked = (op: Op) => [...op.deps].some((d) => failed.has(d));
  const pendingOps = new Map(ops);
  let wake: () => void = () => {};
  const onAbort = () => wake();
  hooks.signal.addEventListener('abort', onAbort, { once: true });
  for (;;) {
    if (hooks.signal.aborted) interrupted = true;
    // Skip what can never run.
    let changed = true;
    while (changed) {
      changed = false;
      for (const [id, op] of pendingOps)
        if (blocked(op)) {
          pendingOps.delete(id);
          failed.add(id);
          changed = true;
        }
    }
    if (!interrupted)
      for (const [id, op] of pendingOps) {
        if (running.size >= hooks.parallelism) break;
        if (!ready(op)) continue;
        pendingOps.delete(id);
        // Terraform's heartbeat for long operations.
        const started = Date.now();
        const verb = { create: 'creating', update: 'modifying', delete: 'destroying', read: 'reading' }[
          op.kind
        ];
        const beat = setInterval(
          () => hooks.log(`${op.change.address}: Still ${verb}... [${elapsed(started)} elapsed]`),
          HEARTBEAT_MS,
        );
        beat.unref();
        const p = run(op)
          .finally(() => clearInterval(beat))
          .then(() => {
            done.add(id);
          })
          .catch((e: unknown) => {
            failed.add(id);
            errors.push({
              address: op.change.address,
              message: `${op.kind === 'delete' ? 'destroy' : op.kind} failed: ${(e as Error).message}`,
            });
          })
          .finally(() => {
            running.delete(id);
            wake();
          });
        running.set(id, p);
      }
    if (running.size === 0) break;
    await new Promise<void>((r) => {
      wake = r;
    });
  }
  hooks.signal.removeEventListener('abort', onAbort);
  if (pendingOps.size > 0 && !interrupted && errors.length === 0)
    errors.push({
      address: '(graph)',
      message: `internal: ${pendingOps.size} operations never became ready`,
    });

  // Outputs are saved when the whole plan went through (as Terraform: they reflect config).
  if (!interrupted && errors.length === 0) {
    // Data sources go with a destroy, or when their block is gone (reading them has no effect to undo).
    state.resources = state.resources.filter(
      (i) => i.mode !== 'data' || (!plan.destroy && ctx.graph.nodes.has(configAddress(i.address))),
    );
    const outputs: State['outputs'] = {};
    const root: ModuleConfig = ctx.graph.root;
    if (!plan.destroy)
      for (const o of root.outputs.values()) {
        try {
          const v = ctx.ev.outputValue(root, o.name);
          if (!isUnknown(v)) outputs[o.name] = { value: v as AttrValue, sensitive: o.sensitive };
        } catch (e) {
          errors.push({ address: `output.${o.name}`, message: (e as Error).message });
        }
      }
    state.outputs = outputs;
  }
  await persist();
  await writer;
  return { state, errors, interrupted, counts };
}

function knownOnly(a: Attrs): Attrs {
  return Object.fromEntries(Object.entries(a).filter(([, v]) => !isUnknown(v))) as Attrs;
}

function baseInstance(c: PlannedChange, attributes: Attrs): StateInstance {
  return {
    address: c.address,
    mode: c.mode,
    type: c.type,
    name: c.name,
    module: c.module,
    index_key: c.indexKey,
    attributes,
    sensitive_attributes: c.sensitive,
    dependencies: c.dependencies,
    ...(c.createBeforeDestroy ? { create_before_destroy: true } : {}),
  };
}
