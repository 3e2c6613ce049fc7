/**
 * Expression evaluation for infra config, on drover's Templar (the same Jinja as playbooks).
 * Scopes are lazy: `local.x`, `module.m.out`, `var.y` of a module and resource values are
 * computed when a template touches them, from the values known right now (prior state during
 * plan, real results during apply). Values not known until apply are the UNKNOWN marker; any
 * result containing it is unknown as a whole.
 */
import { TemplateError } from '../template/error.js';
import { isTemplate, Templar } from '../template/templar.js';
import type { ModuleConfig } from './config.js';
import type { ConfigGraph } from './graph.js';
import type { Attrs } from './provider.js';

export const UNKNOWN = '__drover_known_after_apply__';

export function isUnknown(v: unknown): boolean {
  if (typeof v === 'string') return v.includes(UNKNOWN);
  if (Array.isArray(v)) return v.some(isUnknown);
  if (v && typeof v === 'object') return Object.values(v).some(isUnknown);
  return false;
}

export type InstanceKey = number | string | null;

export interface Expansion {
  kind: 'single' | 'count' | 'for_each';
  keys: InstanceKey[];
  /** for_each values by key. */
  each?: Map<string, unknown>;
}

export interface InstanceVars {
  count?: number;
  each?: { key: string; value: unknown };
}

export class EvaluationCycleError extends Error {}

export class Evaluator {
  readonly templar = new Templar({ cwd: process.cwd() });
  /** Resource node id -> expansion. */
  readonly expansions = new Map<string, Expansion>();
  /** Resource node id -> instance key (JSON) -> current attribute values. */
  readonly values = new Map<string, Map<string, Attrs>>();
  private cache = new Map<string, unknown>();
  private readonly active = new Set<string>();

  constructor(
    readonly graph: ConfigGraph,
    readonly rootVars: Record<string, unknown>,
  ) {}

  /** Values changed: forget everything derived from them. */
  invalidate(): void {
    this.cache = new Map();
  }

  setInstance(id: string, key: InstanceKey, attrs: Attrs | undefined): void {
    let m = this.values.get(id);
    if (!m) {
      m = new Map();
      this.values.set(id, m);
    }
    if (attrs === undefined) m.delete(JSON.stringify(key));
    else m.set(JSON.stringify(key), attrs);
    this.invalidate();
  }

  getInstance(id: string, key: InstanceKey): Attrs | undefined {
    return this.values.get(id)?.get(JSON.stringify(key));
  }

  /** Templates a value in a module's scope. Throws TemplateError. */
  eval(mod: ModuleConfig, value: unknown, inst: InstanceVars = {}): unknown {
    return this.templar.template(value, this.scope(mod, inst));
  }

  /** A bare Jinja expression (conditions). */
  evalExpr(mod: ModuleConfig, expr: string, extra: Record<string, unknown> = {}): unknown {
    const scope = this.scope(mod, {});
    const lookup = (n: string) => (n in extra ? extra[n] : scope(n));
    return isTemplate(expr) ? this.templar.template(expr, lookup) : this.templar.evaluate(expr, lookup);
  }

  private memo(key: string, f: () => unknown): unknown {
    if (this.cache.has(key)) return this.cache.get(key);
    if (this.active.has(key)) throw new EvaluationCycleError(`cycle while evaluating ${key}`);
    this.active.add(key);
    try {
      const v = f();
      this.cache.set(key, v);
      return v;
    } finally {
      this.active.delete(key);
    }
  }

  varValue(mod: ModuleConfig, name: string): unknown {
    return this.memo(`${mod.prefix}var.${name}`, () => {
      if (!mod.prefix) return this.rootVars[name];
      const p = this.graph.parents.get(mod.prefix)!;
      const call = p.parent.modules.get(p.name)!;
      if (name in call.inputs) return this.eval(p.parent, call.inputs[name]);
      return mod.variables.get(name)?.default ?? null;
    });
  }

  localValue(mod: ModuleConfig, name: string): unknown {
    return this.memo(`${mod.prefix}local.${name}`, () => this.eval(mod, mod.locals.get(name)?.value));
  }

  outputValue(mod: ModuleConfig, name: string): unknown {
    return this.memo(`${mod.prefix}output.${name}`, () => this.eval(mod, mod.outputs.get(name)?.value));
  }

  /** The value a reference to a resource block gives: one object, a list (count) or a map (for_each). */
  resourceValue(id: string): unknown {
    const exp = this.expansions.get(id);
    const vals = this.values.get(id);
    const get = (k: InstanceKey) => vals?.get(JSON.stringify(k));
    if (!exp) {
      // Not expanded yet (e.g. evaluating outputs of state only): use whatever instances are known.
      if (!vals || vals.size === 0) return undefined;
      const keys = [...vals.keys()].map((k) => JSON.parse(k) as InstanceKey);
      if (keys.length === 1 && keys[0] === null) return get(null);
      if (keys.every((k) => typeof k === 'number'))
        return keys.sort((a, b) => (a as number) - (b as number)).map(get);
      return Object.fromEntries(keys.map((k) => [String(k), get(k)]));
    }
    if (exp.kind === 'single') return get(null);
    if (exp.kind === 'count') return exp.keys.map((k) => get(k) ?? unknownObject());
    return Object.fromEntries(exp.keys.map((k) => [String(k), get(k) ?? unknownObject()]));
  }

  scope(mod: ModuleConfig, inst: InstanceVars): (name: string) => unknown {
    return (name: string): unknown => {
      switch (name) {
        case 'var':
          return lazyObject([...mod.variables.keys()], (k) => this.varValue(mod, k));
        case 'local':
          return lazyObject([...mod.locals.keys()], (k) => this.localValue(mod, k));
        case 'module':
          return lazyObject([...mod.modules.keys()], (k) => {
            const child = mod.modules.get(k)!.module;
            return lazyObject([...child.outputs.keys()], (o) => this.outputValue(child, o));
          });
        case 'data': {
          const types = new Set(
            [...mod.resources.values()].filter((r) => r.mode === 'data').map((r) => r.type),
          );
          return lazyObject([...types], (t) =>
            lazyObject(
              [...mod.resources.values()].filter((r) => r.mode === 'data' && r.type === t).map((r) => r.name),
              (n) => this.resourceValue(`${mod.prefix}data.${t}.${n}`),
            ),
          );
        }
        case 'count':
          return inst.count === undefined ? undefined : { index: inst.count };
        case 'each':
          return inst.each;
        case 'path':
          return { module: mod.dir, root: this.graph.root.dir, cwd: process.cwd() };
        default: {
          const names = [...mod.resources.values()]
            .filter((r) => r.mode === 'managed' && r.type === name)
            .map((r) => r.name);
          if (names.length === 0) return undefined;
          return lazyObject(names, (n) => this.resourceValue(`${mod.prefix}${name}.${n}`));
        }
      }
    };
  }
}

/** A stand-in for an instance not planned yet: every attribute unknown. */
function unknownObject(): Record<string, unknown> {
  return new Proxy(
    {},
    {
      get: (_t, p) => (typeof p === 'string' ? UNKNOWN : undefined),
    },
  );
}

function lazyObject(keys: string[], get: (k: string) => unknown): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of keys)
    Object.defineProperty(o, k, { get: () => get(k), enumerable: true, configurable: true });
  return o;
}

export function isTemplateError(e: unknown): e is TemplateError {
  return e instanceof TemplateError;
}
