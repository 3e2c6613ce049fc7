/**
 * One infra command's view of a directory: the loaded and checked configuration, variable
 * values, the backend, and the operations the CLI runs (refresh, plan, apply, state edits),
 * each under the state lock.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import YAML from 'yaml';
import { ControllerError, DroverError, ExitCode, ProblemList, type SourcePos } from '../errors.js';
import { Redactor } from '../output/redact.js';
import { loadYaml } from '../yaml/load.js';
import { type ApplyResult, applyPlan } from './apply.js';
import { type Backend, type LockInfo, StateLockedError } from './backend.js';
import { createLocalBackend } from './backends/local.js';
import { allModules, convertType, loadConfig, type ModuleConfig, typeError } from './config.js';
import { Evaluator, type InstanceKey, isUnknown } from './evaluate.js';
import { ConfigGraph } from './graph.js';
import {
  checkAddresses,
  configAddress,
  makePlan,
  type Plan,
  type PlanContext,
  type PlanOptions,
} from './plan.js';
import type { Attrs, AttrValue, ProviderContext, ResourceType } from './provider.js';
import { resourceTypes } from './providers/index.js';
import { SENSITIVE } from './render.js';
import {
  emptyState,
  parseState,
  type State,
  StateFormatError,
  type StateInstance,
  serializeState,
  sortInstances,
} from './state.js';

export const DROVER_VERSION = '0.1.0';

/** Any infra failure the user can act on; Terraform exits 1 for all of them. */
export class InfraError extends DroverError {
  readonly exitCode = ExitCode.error;
}

export interface SessionOptions {
  dir: string;
  /** `-var NAME=VALUE`, in order. */
  vars?: string[];
  varFiles?: string[];
  lock?: boolean;
  lockTimeoutMs?: number;
  parallelism?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
  /** Skip variable checks (state commands, output, show need no values). */
  noVars?: boolean;
  /** Root variable values decided earlier (a saved plan's). */
  presetVars?: Record<string, unknown>;
}

export function formatLockInfo(l: LockInfo | undefined): string {
  if (!l) return 'Lock Info: (unreadable)';
  return [
    'Lock Info:',
    `  ID:        ${l.id}`,
    `  Path:      ${l.path}`,
    `  Operation: ${l.operation}`,
    `  Who:       ${l.who}`,
    `  Version:   ${l.version}`,
    `  Created:   ${l.created}`,
  ].join('\n');
}

export class InfraSession {
  readonly redactor = new Redactor({ mask: SENSITIVE });
  readonly types = resourceTypes();
  private lockId: string | undefined;

  private constructor(
    readonly dir: string,
    readonly root: ModuleConfig,
    readonly graph: ConfigGraph,
    readonly ev: Evaluator,
    readonly backend: Backend,
    readonly opts: SessionOptions,
  ) {}

  /** Root variable values in effect (saved into plan files). */
  get variables(): Record<string, unknown> {
    return this.ev.rootVars;
  }

  /** A digest of every config file (a saved plan refuses to apply to changed config). */
  configDigest(): string {
    const h = createHash('sha256');
    for (const m of allModules(this.root))
      for (const f of m.files) h.update(f).update('\0').update(readFileSync(f)).update('\0');
    return h.digest('hex');
  }

  /** Loads and checks everything; throws every problem at once (ValidationError). */
  static async open(opts: SessionOptions): Promise<InfraSession> {
    const dir = resolve(opts.dir);
    if (!existsSync(dir))
      throw new InfraError(
        `infra directory not found: ${opts.dir}`,
        'pass the directory holding *.infra.yml files (or -chdir=DIR)',
      );
    const types = resourceTypes();
    const { root, problems } = loadConfig(dir, { types });
    const graph = new ConfigGraph(root, (n) => types.managed.has(n));
    graph.link(problems);
    const cycle = problems.errors.length === 0 ? graph.findCycle() : undefined;
    if (cycle) {
      const first = graph.nodes.get(cycle[0]!)!;
      problems.add(
        `dependency cycle: ${cycle.join(' -> ')}`,
        first.pos,
        `break the cycle; the blocks are at ${cycle
          .slice(0, -1)
          .map((id) => {
            const p = graph.nodes.get(id)!.pos;
            return `${id} ${p.file}:${p.line}:${p.col}`;
          })
          .join(', ')}`,
      );
    }
    const rootVars = opts.presetVars ?? (opts.noVars ? {} : resolveVariables(dir, root, opts, problems));
    const ev = new Evaluator(graph, rootVars);
    if (!opts.noVars && problems.errors.length === 0) checkValidations(root, ev, problems);
    if (problems.errors.length > 0) {
      // Messages may quote values (a template error on a sensitive variable): mask them.
      const r = new Redactor({ mask: SENSITIVE });
      for (const v of root.variables.values())
        if (v.sensitive && rootVars[v.name] !== undefined) addSecret(r, rootVars[v.name]);
      for (const p of problems.items) {
        p.message = r.redact(p.message);
        if (p.hint) p.hint = r.redact(p.hint);
      }
      problems.throwIfAny();
    }
    const backend = await openBackend(dir, root, ev);
    const s = new InfraSession(dir, root, graph, ev, backend, opts);
    for (const v of root.variables.values())
      if (v.sensitive && rootVars[v.name] !== undefined) addSecret(s.redactor, rootVars[v.name]);
    return s;
  }

  redact(text: string): string {
    return this.redactor.redact(text);
  }

  registerSecrets(state: State): void {
    for (const i of state.resources)
      for (const k of i.sensitive_attributes) addSecret(this.redactor, i.attributes[k]);
    for (const o of Object.values(state.outputs)) if (o.sensitive) addSecret(this.redactor, o.value);
  }

  async lock(operation: string): Promise<void> {
    if (this.opts.lock === false) return;
    try {
      this.lockId = await this.backend.lock(
        {
          operation,
          who: `${userInfo().username}@${hostname()}`,
          created: new Date().toISOString(),
          version: DROVER_VERSION,
        },
        this.opts.lockTimeoutMs ?? 0,
      );
    } catch (e) {
      if (e instanceof StateLockedError)
        throw new InfraError(
          `Error acquiring the state lock: ${e.message}\n${formatLockInfo(e.holder)}`,
          `another drover is running ${e.holder?.operation ?? 'an operation'} on this state; wait for it, retry with -lock-timeout=60s to wait, or if that process is gone: drover infra force-unlock ${e.holder?.id ?? 'ID'}`,
        );
      throw e;
    }
  }

  async unlock(): Promise<void> {
    if (this.lockId) await this.backend.unlock(this.lockId);
    this.lockId = undefined;
  }

  async close(): Promise<void> {
    await this.unlock();
    await this.backend.close();
  }

  async readState(): Promise<State> {
    const text = await this.backend.read();
    if (text === undefined) return emptyState();
    try {
      const s = parseState(text, this.backend.description);
      this.registerSecrets(s);
      return s;
    } catch (e) {
      if (e instanceof StateFormatError)
        throw new InfraError(e.message, 'restore the .backup file next to it, or fix the JSON');
      throw e;
    }
  }

  /** Bumps the serial and writes. */
  async writeState(state: State): Promise<void> {
    state.serial++;
    await this.writeRaw(state);
  }

  /** Writes as is (the caller bumped the serial). */
  async writeRaw(state: State): Promise<void> {
    state.drover_version = DROVER_VERSION;
    await this.backend.write(serializeState({ ...state, resources: sortInstances([...state.resources]) }));
  }

  providerContext(address: string): ProviderContext {
    const workDir = join(this.dir, '.drover', 'infra');
    return {
      dir: this.dir,
      get workDir() {
        mkdirSync(workDir, { recursive: true });
        return workDir;
      },
      address,
      log: (line) => this.opts.log?.(this.redact(`${address}: ${line}`)),
      signal: this.opts.signal ?? new AbortController().signal,
    };
  }

  planContext(): PlanContext {
    return {
      graph: this.graph,
      ev: this.ev,
      types: this.types,
      readData: (rt, config, address) => rt.create(config, this.providerContext(address)),
    };
  }

  rtOf(i: { mode: string; type: string }): ResourceType | undefined {
    return (i.mode === 'data' ? this.types.data : this.types.managed).get(i.type);
  }

  /** Reads every managed object; returns the refreshed state (a copy) and what drifted. */
  async refresh(state: State): Promise<{ state: State; drift: Plan['drift'] }> {
    const next: State = { ...state, resources: [] };
    const drift: Plan['drift'] = [];
    const limit = Math.max(1, this.opts.parallelism ?? 10);
    const queue = [...state.resources];
    const results = new Map<StateInstance, StateInstance | undefined>();
    const worker = async () => {
      for (;;) {
        const i = queue.shift();
        if (!i) return;
        const rt = this.rtOf(i);
        if (!rt || i.mode === 'data' || i.status || i.deposed) {
          results.set(i, i);
          continue;
        }
        try {
          const now = await rt.read(i.attributes, this.providerContext(i.address));
          if (!now) {
            drift.push({ address: i.address, what: 'deleted' });
            results.set(i, undefined);
          } else {
            if (JSON.stringify(now) !== JSON.stringify(i.attributes))
              drift.push({ address: i.address, what: 'changed' });
            results.set(i, { ...i, attributes: now });
          }
        } catch (e) {
          throw new InfraError(`refreshing ${i.address} failed: ${(e as Error).message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
    for (const i of state.resources) {
      const r = results.get(i);
      if (r) next.resources.push(r);
    }
    drift.sort((a, b) => a.address.localeCompare(b.address));
    return { state: next, drift };
  }

  async plan(state: State, opts: PlanOptions & { drift?: Plan['drift'] }): Promise<Plan> {
    const problems = new ProblemList();
    checkAddresses(opts.targets, '-target', this.graph, state, problems);
    checkAddresses(opts.replace, '-replace', this.graph, state, problems);
    problems.throwIfAny();
    const plan = await makePlan(this.planContext(), state, opts);
    plan.drift = opts.drift ?? [];
    for (const c of plan.changes) for (const k of c.sensitive) addSecret(this.redactor, c.after?.[k]);
    return plan;
  }

  async apply(plan: Plan, state: State): Promise<ApplyResult> {
    return applyPlan(this.planContext(), plan, state, {
      save: (s) => {
        // Values created just now (a generated password) are masked from here on.
        this.registerSecrets(s);
        return this.writeRaw(s);
      },
      log: (l) => this.opts.log?.(this.redact(l)),
      signal: this.opts.signal ?? new AbortController().signal,
      parallelism: Math.max(1, this.opts.parallelism ?? 10),
      providerContext: (a) => this.providerContext(a),
    });
  }

  /**
   * The resource block's settings for an import (a postgresql_* `connection` map, say),
   * evaluated as a plan would with what the state knows. An attribute that cannot be known
   * yet (it refers to something not created) or fails to evaluate is left out: the import
   * then works from the object alone, and the next plan reports any difference.
   */
  private importConfig(state: State, nodeId: string, key: InstanceKey): Attrs {
    for (const i of state.resources)
      if (!i.deposed) this.ev.setInstance(configAddress(i.address), i.index_key, i.attributes);
    const r = this.graph.nodes.get(nodeId)!.resource!;
    const mod = this.graph.nodes.get(nodeId)!.module;
    const inst =
      typeof key === 'number'
        ? { count: key }
        : typeof key === 'string'
          ? { each: { key, value: null } }
          : {};
    const out: Attrs = {};
    for (const [k, v] of Object.entries(r.body)) {
      try {
        const val = this.ev.eval(mod, v, inst);
        if (!isUnknown(val)) out[k] = val as AttrValue;
      } catch {
        // left out: see above
      }
    }
    return out;
  }

  /** Attributes of an existing object for `infra import ADDR ID`. */
  async importInstance(state: State, address: string, id: string): Promise<StateInstance> {
    const node = this.graph.nodes.get(configAddress(address));
    if (node?.resource?.mode !== 'managed')
      throw new InfraError(
        `cannot import to ${address}: no resource block '${configAddress(address)}' in the configuration`,
        'add the resource block first, then import',
      );
    if (state.resources.some((i) => i.address === address))
      throw new InfraError(
        `${address} is already managed (it is in the state)`,
        `drover infra state rm ${address} first to import another object`,
      );
    const rt = this.rtOf(node.resource)!;
    if (!rt.import) throw new InfraError(`resource type ${node.resource.type} does not support import`);
    const m = /\[(\d+|"(?:[^"\\]|\\.)*")\]$/.exec(address);
    const key = m ? (JSON.parse(m[1]!) as number | string) : null;
    const attrs = await rt.import(id, this.providerContext(address), this.importConfig(state, node.id, key));
    return {
      address,
      mode: 'managed',
      type: node.resource.type,
      name: node.resource.name,
      module: node.resource.modulePrefix.replace(/\.$/, ''),
      index_key: key,
      attributes: attrs,
      sensitive_attributes: Object.entries(rt.schema.attributes)
        .filter(([, s]) => s.sensitive)
        .map(([k]) => k),
      dependencies: [...this.graph.resourceDeps(node.id)].sort(),
    };
  }
}

function addSecret(r: Redactor, v: unknown): void {
  if (v === null || v === undefined || isUnknown(v)) return;
  if (typeof v === 'string' || typeof v === 'number') r.add(v);
  else if (Array.isArray(v)) for (const x of v) addSecret(r, x);
  else if (typeof v === 'object') for (const x of Object.values(v)) addSecret(r, x);
}

const CLI: SourcePos = { file: '(command line)', line: 1, col: 1 };

function parseVarValue(type: string, raw: string): unknown {
  const b = type.split('(')[0];
  if (b === 'list' || b === 'map' || b === 'any') {
    if (/^\s*[[{]/.test(raw)) {
      try {
        return YAML.parse(raw);
      } catch {
        return raw;
      }
    }
  }
  return raw;
}

/** Root variable values: defaults < DROVER_VAR_x < drover.vars.yml < *.auto.vars.yml < -var-file / -var. */
function resolveVariables(
  dir: string,
  root: ModuleConfig,
  opts: SessionOptions,
  problems: ProblemList,
): Record<string, unknown> {
  const given = new Map<string, { value: unknown; pos: SourcePos; raw: boolean }>();
  for (const [k, v] of Object.entries(process.env))
    if (k.startsWith('DROVER_VAR_') && v !== undefined && root.variables.has(k.slice(11)))
      given.set(k.slice(11), { value: v, pos: { file: `(environment ${k})`, line: 1, col: 1 }, raw: true });
  const auto = existsSync(dir)
    ? readdirSync(dir)
        .filter((n) => n === 'drover.vars.yml' || n.endsWith('.auto.vars.yml'))
        .sort((a, b) => (a === 'drover.vars.yml' ? -1 : b === 'drover.vars.yml' ? 1 : a.localeCompare(b)))
        .map((n) => join(dir, n))
    : [];
  const fromFile = (file: string, explicit: boolean) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      problems.add(`cannot read variables file: ${(e as Error).message}`, { file, line: 1, col: 1 });
      return;
    }
    const y = loadYaml(text, file);
    for (const p of y.problems) problems.add(p.message, p.pos);
    const doc = y.docs[0];
    if (doc === null || doc === undefined) return;
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      problems.add('a variables file must be a mapping of NAME: VALUE', { file, line: 1, col: 1 });
      return;
    }
    for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
      const pos = { file, line: 1, col: 1 };
      if (!root.variables.has(k)) {
        if (explicit)
          problems.add(
            `value for undeclared variable '${k}'`,
            pos,
            'declare it under variables: in an *.infra.yml file',
          );
        continue;
      }
      given.set(k, { value: v, pos, raw: false });
    }
  };
  for (const f of auto) fromFile(f, false);
  for (const f of opts.varFiles ?? []) fromFile(resolve(f), true);
  for (const kv of opts.vars ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) {
      problems.add(`-var '${kv}': expected NAME=VALUE`, CLI);
      continue;
    }
    const name = kv.slice(0, eq);
    const v = root.variables.get(name);
    if (!v) {
      const s = [...root.variables.keys()].find((n) => n.toLowerCase() === name.toLowerCase());
      problems.add(
        `-var ${name}: value for undeclared variable '${name}'`,
        CLI,
        s ? `did you mean '${s}'?` : 'declare it under variables: first',
      );
      continue;
    }
    given.set(name, { value: parseVarValue(v.type, kv.slice(eq + 1)), pos: CLI, raw: true });
  }
  const out: Record<string, unknown> = {};
  for (const v of root.variables.values()) {
    const g = given.get(v.name);
    if (!g) {
      if (!v.hasDefault) {
        problems.add(
          `no value for required variable '${v.name}'`,
          v.pos,
          `pass -var ${v.name}=VALUE, a -var-file, DROVER_VAR_${v.name}, or give it a default`,
        );
        continue;
      }
      out[v.name] = v.default ?? null;
      continue;
    }
    let value = g.raw ? parseVarValue(v.type, String(g.value)) : g.value;
    const err = typeError(v.type, value);
    if (err) {
      problems.add(
        `variable '${v.name}' ${err}`,
        g.pos,
        `declared as ${v.type} at ${v.pos.file}:${v.pos.line}:${v.pos.col}`,
      );
      continue;
    }
    value = convertType(v.type, value);
    out[v.name] = value;
  }
  return out;
}

function checkValidations(root: ModuleConfig, ev: Evaluator, problems: ProblemList): void {
  for (const m of allModules(root))
    for (const v of m.variables.values())
      for (const rule of v.validation) {
        let ok: unknown;
        try {
          const value = ev.varValue(m, v.name);
          if (isUnknown(value)) continue;
          ok = ev.evalExpr(m, rule.condition, { var: { [v.name]: value } });
        } catch (e) {
          problems.add(
            `variable '${v.name}': validation condition failed to evaluate: ${(e as Error).message}`,
            rule.pos,
          );
          continue;
        }
        if (ok !== true && ok !== 'True' && ok !== 'true')
          problems.add(
            `invalid value for variable '${v.name}': ${rule.errorMessage}`,
            rule.pos,
            v.sensitive ? undefined : `the value was ${JSON.stringify(ev.varValue(m, v.name))}`,
          );
      }
}

async function openBackend(dir: string, root: ModuleConfig, ev: Evaluator): Promise<Backend> {
  const b = root.backend;
  if (!b || b.kind === 'local') {
    const path = b?.options.path;
    return createLocalBackend(dir, typeof path === 'string' ? { path } : {});
  }
  const opts = ev.eval(root, b.options) as Record<string, unknown>;
  let mod: { createPgBackend: (o: Record<string, unknown>) => Backend };
  try {
    mod = await import('./backends/pg.js');
  } catch (e) {
    throw new ControllerError(`the pg backend is not available: ${(e as Error).message}`);
  }
  return mod.createPgBackend(opts);
}

export type { Attrs, AttrValue };
