/**
 * The configuration graph: one node per variable, local, resource, data source, output and
 * module output (ids carry the module prefix, e.g. `module.net.local_file.a`). Edges come from
 * references inside expressions and from `depends_on`; every bad reference and every cycle is
 * reported with its file:line:col.
 */
import { didYouMean, type ProblemList, type SourcePos } from '../errors.js';
import { allModules, type ModuleConfig, type ResourceConfig } from './config.js';
import { findRefs, type Ref } from './refs.js';

export type NodeKind = 'var' | 'local' | 'resource' | 'output';

export interface GraphNode {
  id: string;
  kind: NodeKind;
  module: ModuleConfig;
  /** Name inside its module (`x` for var.x, `local_file.a` for a resource). */
  name: string;
  pos: SourcePos;
  deps: Set<string>;
  resource?: ResourceConfig;
}

export class ConfigGraph {
  readonly nodes = new Map<string, GraphNode>();
  /** Module prefix -> module, and prefix -> [parent, call name]. */
  readonly modules = new Map<string, ModuleConfig>();
  readonly parents = new Map<string, { parent: ModuleConfig; name: string }>();

  constructor(
    readonly root: ModuleConfig,
    readonly isType: (name: string) => boolean,
  ) {
    for (const m of allModules(root)) {
      this.modules.set(m.prefix, m);
      for (const call of m.modules.values())
        this.parents.set(call.module.prefix, { parent: m, name: call.name });
    }
    for (const m of this.modules.values()) {
      for (const v of m.variables.values())
        this.add({
          id: `${m.prefix}var.${v.name}`,
          kind: 'var',
          module: m,
          name: v.name,
          pos: v.pos,
          deps: new Set(),
        });
      for (const [n, l] of m.locals)
        this.add({
          id: `${m.prefix}local.${n}`,
          kind: 'local',
          module: m,
          name: n,
          pos: l.pos,
          deps: new Set(),
        });
      for (const r of m.resources.values())
        this.add({
          id: `${m.prefix}${r.localKey}`,
          kind: 'resource',
          module: m,
          name: r.localKey,
          pos: r.pos,
          deps: new Set(),
          resource: r,
        });
      for (const o of m.outputs.values())
        this.add({
          id: `${m.prefix}output.${o.name}`,
          kind: 'output',
          module: m,
          name: o.name,
          pos: o.pos,
          deps: new Set(),
        });
    }
  }

  private add(n: GraphNode): void {
    this.nodes.set(n.id, n);
  }

  /** Resolves references and depends_on into edges; reports bad ones. */
  link(problems: ProblemList): void {
    for (const m of this.modules.values()) {
      // Module inputs are evaluated in the calling module.
      for (const call of m.modules.values())
        for (const [k, v] of Object.entries(call.inputs)) {
          const node = this.nodes.get(`${call.module.prefix}var.${k}`);
          if (node) this.refsInto(node, m, v, call.inputPos[k] ?? call.pos, problems, {});
        }
      for (const [n, l] of m.locals)
        this.refsInto(this.nodes.get(`${m.prefix}local.${n}`)!, m, l.value, l.pos, problems, {});
      for (const o of m.outputs.values())
        this.refsInto(this.nodes.get(`${m.prefix}output.${o.name}`)!, m, o.value, o.pos, problems, {});
      for (const r of m.resources.values()) {
        const node = this.nodes.get(`${m.prefix}${r.localKey}`)!;
        const allow = { count: r.count !== undefined, each: r.forEach !== undefined, self: false };
        for (const [k, v] of Object.entries(r.body))
          this.refsInto(node, m, v, r.attrPos[k] ?? r.pos, problems, allow);
        if (r.count !== undefined) this.refsInto(node, m, r.count, r.attrPos.count ?? r.pos, problems, {});
        if (r.forEach !== undefined)
          this.refsInto(node, m, r.forEach, r.attrPos.for_each ?? r.pos, problems, {});
        for (const d of r.dependsOn) {
          const ids = this.resolveAddress(m, d.ref);
          if (ids.length === 0)
            problems.add(
              `${r.localKey}: depends_on names '${d.ref}', which is not declared`,
              d.pos,
              this.suggest(m, d.ref),
            );
          for (const id of ids) if (id !== node.id) node.deps.add(id);
        }
        for (const t of r.lifecycle.replaceTriggeredBy) {
          const base = t.replace(/\[[^\]]*\]/g, '').split('.');
          const addr = base[0] === 'data' ? base.slice(0, 3).join('.') : base.slice(0, 2).join('.');
          const ids = this.resolveAddress(m, addr);
          if (ids.length === 0)
            problems.add(
              `${r.localKey}: replace_triggered_by names '${t}', which is not declared`,
              r.attrPos.lifecycle ?? r.pos,
              this.suggest(m, addr),
            );
          for (const id of ids) if (id !== node.id) node.deps.add(id);
        }
      }
    }
  }

  private suggest(m: ModuleConfig, ref: string): string | undefined {
    const s = didYouMean(ref, [...m.resources.keys(), ...[...m.modules.keys()].map((k) => `module.${k}`)]);
    return s ? `did you mean '${s}'?` : undefined;
  }

  /** `T.N`, `data.T.N` or `module.m` inside module m to node ids. */
  resolveAddress(m: ModuleConfig, ref: string): string[] {
    const clean = ref.replace(/\[[^\]]*\]$/, '');
    if (m.resources.has(clean)) return [`${m.prefix}${clean}`];
    const mm = /^module\.([\w-]+)$/.exec(clean);
    const call = mm ? m.modules.get(mm[1]!) : undefined;
    if (call) {
      const ids: string[] = [];
      for (const id of this.nodes.keys())
        if (id.startsWith(call.module.prefix) && this.nodes.get(id)!.kind === 'resource') ids.push(id);
      for (const o of call.module.outputs.keys()) ids.push(`${call.module.prefix}output.${o}`);
      return ids;
    }
    return [];
  }

  private refsInto(
    node: GraphNode,
    m: ModuleConfig,
    value: unknown,
    pos: SourcePos,
    problems: ProblemList,
    allow: { count?: boolean; each?: boolean; self?: boolean },
  ): void {
    for (const ref of findRefs(
      value,
      (n) => this.isType(n) || [...m.resources.values()].some((r) => r.mode === 'managed' && r.type === n),
    )) {
      const id = this.resolveRef(node, m, ref, pos, problems, allow);
      if (id && id !== node.id) node.deps.add(id);
      else if (id === node.id && node.kind === 'resource')
        problems.add(
          `${node.name} refers to itself ('${ref.text}')`,
          pos,
          'a resource cannot use its own attributes',
        );
    }
  }

  private resolveRef(
    node: GraphNode,
    m: ModuleConfig,
    ref: Ref,
    pos: SourcePos,
    problems: ProblemList,
    allow: { count?: boolean; each?: boolean },
  ): string | undefined {
    const where = node.kind === 'resource' ? node.name : `${node.kind} '${node.name}'`;
    switch (ref.kind) {
      case 'var':
      case 'local': {
        const name = ref.key.slice(ref.kind.length + 1);
        const declared: Map<string, unknown> = ref.kind === 'var' ? m.variables : m.locals;
        if (!declared.has(name)) {
          const s = didYouMean(name, declared.keys());
          problems.add(
            `${where}: reference to undefined ${ref.kind === 'var' ? 'variable' : 'local'} '${ref.key}'`,
            pos,
            s
              ? `did you mean '${ref.kind}.${s}'?`
              : `declare it under '${ref.kind === 'var' ? 'variables' : 'locals'}:'`,
          );
          return undefined;
        }
        return `${m.prefix}${ref.key}`;
      }
      case 'module': {
        const [, name, out] = ref.key.split('.');
        const call = m.modules.get(name!);
        if (!call) {
          const s = didYouMean(name!, m.modules.keys());
          problems.add(
            `${where}: reference to undeclared module 'module.${name}'`,
            pos,
            s ? `did you mean 'module.${s}'?` : undefined,
          );
          return undefined;
        }
        if (!out) {
          for (const o of call.module.outputs.keys()) node.deps.add(`${call.module.prefix}output.${o}`);
          return undefined;
        }
        if (!call.module.outputs.has(out)) {
          const s = didYouMean(out, call.module.outputs.keys());
          problems.add(
            `${where}: module '${name}' has no output '${out}'`,
            pos,
            s
              ? `did you mean 'module.${name}.${s}'?`
              : `its outputs: ${[...call.module.outputs.keys()].join(', ') || 'none'}`,
          );
          return undefined;
        }
        return `${call.module.prefix}output.${out}`;
      }
      case 'data':
      case 'resource': {
        if (!m.resources.has(ref.key)) {
          const s = didYouMean(ref.key, m.resources.keys());
          problems.add(
            `${where}: reference to undeclared ${ref.kind === 'data' ? 'data source' : 'resource'} '${ref.key}'`,
            pos,
            s ? `did you mean '${s}'?` : undefined,
          );
          return undefined;
        }
        return `${m.prefix}${ref.key}`;
      }
      case 'count':
        if (!allow.count)
          problems.add(`${where}: 'count' can only be used in a resource that sets count`, pos);
        return undefined;
      case 'each':
        if (!allow.each)
          problems.add(`${where}: 'each' can only be used in a resource that sets for_each`, pos);
        return undefined;
      default:
        return undefined;
    }
  }

  /** A cycle, as node ids, first repeated at the end; undefined if the graph is acyclic. */
  findCycle(): string[] | undefined {
    const color = new Map<string, 1 | 2>();
    const stack: string[] = [];
    const visit = (id: string): string[] | undefined => {
      color.set(id, 1);
      stack.push(id);
      for (const d of [...(this.nodes.get(id)?.deps ?? [])].sort()) {
        const c = color.get(d);
        if (c === 1) return [...stack.slice(stack.indexOf(d)), d];
        if (c === undefined && this.nodes.has(d)) {
          const r = visit(d);
          if (r) return r;
        }
      }
      stack.pop();
      color.set(id, 2);
      return undefined;
    };
    for (const id of [...this.nodes.keys()].sort())
      if (!color.has(id)) {
        const r = visit(id);
        if (r) return r;
      }
    return undefined;
  }

  /** Dependencies first. */
  topo(): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    const visit = (id: string) => {
      if (seen.has(id)) return;
      seen.add(id);
      for (const d of this.nodes.get(id)?.deps ?? []) visit(d);
      out.push(id);
    };
    for (const id of this.nodes.keys()) visit(id);
    return out;
  }

  /** Resource nodes a node depends on, directly or through variables, locals and outputs. */
  resourceDeps(id: string): Set<string> {
    const out = new Set<string>();
    const seen = new Set<string>();
    const walk = (n: string) => {
      for (const d of this.nodes.get(n)?.deps ?? []) {
        if (seen.has(d)) continue;
        seen.add(d);
        if (this.nodes.get(d)?.kind === 'resource') out.add(d);
        else walk(d);
      }
    };
    walk(id);
    return out;
  }
}
