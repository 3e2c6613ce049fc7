/**
 * Runs one task on one host: loop items, `when` per item, templated arguments, the module's
 * Step chain over the host's connection (or an engine action), until/retries,
 * changed_when/failed_when, register, no_log. A failed remote command is a value here;
 * only controller bugs throw.
 */
import { validateArgs } from '../../modules/args.js';
import { findModule } from '../../modules/index.js';
import { awaitReboot } from '../../modules/system/reboot.js';
import { isStep, type PlanContext, type TaskResult } from '../../modules/types.js';
import { formatPos } from '../errors.js';
import type { HostStatus, TaskRef } from '../events/types.js';
import type { TaskNode } from '../playbook/types.js';
import { pyStr } from '../template/python.js';
import type { Become, Connection, ConnectionSpec, RunOptions } from '../transport/types.js';
import { UnreachableError } from '../transport/types.js';
import { isEngineAction, runEngineAction } from './actions.js';
import { controllerFiles } from './controller-files.js';
import { LoopError, loopItems } from './loop.js';
import type { PlayRun } from './play.js';
import type { VarLookup } from './ports.js';
import { factLayer, type HostState, type Layer, lookupOver, type TaskScope, taskLayers } from './vars.js';

/** Actions whose result is more tasks to run (Ansible's `included:` lines). */
export const INCLUDE_ACTIONS = new Set(['include_tasks', 'include', 'include_role']);

export const NO_LOG_MSG =
  "the output has been hidden due to the fact that 'no_log: true' was specified for this result";

/** What the walker needs back besides the result: follow-up work the task asked for. */
export interface Effects {
  include?: {
    nodes: import('../playbook/types.js').PlayNode[];
    scope: TaskScope;
    file: string;
    /** The loop item's label when a looped include made this one. */
    itemLabel?: string;
  }[];
  meta?: string;
}

export interface TaskOutcome {
  status: HostStatus;
  result: TaskResult;
  effects?: Effects;
  /** The task looped (item events were emitted already). */
  loop?: boolean;
  delegatedTo?: string;
}

export function taskRef(task: TaskNode, name?: string): TaskRef {
  const ref: TaskRef = {
    id: task.id,
    name: name ?? task.name ?? task.actionAs,
    action: task.action,
    pos: task.pos,
  };
  const role = task.origin.role?.name;
  if (role) ref.role = role;
  if (task.handler) ref.handler = true;
  return ref;
}

/** Ansible's truthiness of a templated keyword value (become, ignore_errors, loop_control.extended...). */
export function asBool(v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return ['yes', 'true', 'on', '1', 'y'].includes(v.toLowerCase());
  if (typeof v === 'number') return v !== 0;
  return Boolean(v);
}

export const NO_LOG_PLACEHOLDER = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER';

/** Ansible's remove_values: no_log argument values replaced in a module result, except its diff. */
export function maskNoLogValues(r: TaskResult, values: string[]): TaskResult {
  const mask = (v: unknown): unknown => {
    if (typeof v === 'string') {
      let out = v;
      for (const secret of values) if (out.includes(secret)) out = out.split(secret).join(NO_LOG_PLACEHOLDER);
      return out;
    }
    if (Array.isArray(v)) return v.map(mask);
    if (v && typeof v === 'object')
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mask(x)]));
    return v;
  };
  const out: TaskResult = {};
  for (const [k, v] of Object.entries(r)) out[k] = k === 'diff' ? v : mask(v);
  return out;
}

export function statusOf(r: TaskResult, ignoreErrors: boolean): HostStatus {
  if (r.unreachable) return 'unreachable';
  if (r.failed) return ignoreErrors ? 'ignored' : 'failed';
  if (r.skipped) return 'skipped';
  return r.changed ? 'changed' : 'ok';
}

/** Removes omitted arguments (the `{{ omit }}` placeholder) at any depth of the top level. */
function stripOmit(args: Record<string, unknown>, omit: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(args)) {
    if (v === omit) continue;
    out[k] = v;
  }
  return out;
}

export class TaskExecutor {
  constructor(private readonly run: PlayRun) {}

  /** The variable lookup for a host at a task (also used for `when` on blocks and includes). */
  varsFor(host: HostState, scope: TaskScope, task: TaskNode | undefined, extra?: Layer): VarLookup {
    // Tasks of an import_role are expanded in place: their role's vars and defaults apply.
    const own = task?.origin.role;
    if (own && !scope.roles.includes(own)) scope = { ...scope, roles: [...scope.roles, own] };
    const layers = taskLayers(this.run.layers, host, scope, task?.keywords.vars, factLayer(host.facts));
    if (task) {
      // Magic vars of the task: its search path, and those of the role it belongs to.
      const magic: Record<string, unknown> = { ansible_search_path: this.run.searchPath(task) };
      const role = task.origin.role;
      if (role) {
        magic.role_name = role.name;
        magic.role_path = role.path;
        magic.ansible_role_name = role.name;
        if (scope.parentRoleNames) magic.ansible_parent_role_names = scope.parentRoleNames;
      }
      layers.unshift(magic);
    }
    if (extra) layers.unshift(extra);
    return lookupOver(layers);
  }

  private kw(task: TaskNode, name: keyof TaskNode['keywords']): unknown {
    const v = task.keywords[name];
    return v !== undefined ? v : this.run.play.keywords[name];
  }

  private kwBool(task: TaskNode, name: keyof TaskNode['keywords'], vars: VarLookup, dflt = false): boolean {
    const v = this.kw(task, name);
    if (v === undefined || v === null) return dflt;
    return asBool(this.run.templar.template(v, vars));
  }

  /** Runs the task on the host and returns the (aggregated, for loops) outcome; emits item events. */
  async execute(task: TaskNode, host: HostState, scope: TaskScope): Promise<TaskOutcome> {
    const vars = this.varsFor(host, scope, task);
    const ignoreErrors = (() => {
      try {
        return this.kwBool(task, 'ignore_errors', vars);
      } catch {
        return false;
      }
    })();
    let outcome: TaskOutcome;
    try {
      outcome = await this.executeInner(task, host, scope, vars, ignoreErrors);
    } catch (e) {
      const result: TaskResult = { failed: true, changed: false, msg: this.describeError(e, task) };
      outcome = { status: statusOf(result, ignoreErrors), result };
    }
    if (task.register) {
      host.hostFacts[task.register] = this.registered(outcome.result);
    }
    let noLog = false;
    try {
      noLog = this.kwBool(task, 'no_log', vars);
    } catch {}
    if (noLog) outcome.result = this.censor(outcome.result);
    return outcome;
  }

  private registered(r: TaskResult): TaskResult {
    const out: TaskResult = {};
    for (const [k, v] of Object.entries(r)) if (!k.startsWith('_ansible_')) out[k] = v;
    if (out.changed === undefined) out.changed = false;
    return out;
  }

  private censor(r: TaskResult): TaskResult {
    const out: TaskResult = { censored: NO_LOG_MSG, changed: r.changed ?? false };
    if (r.failed) out.failed = true;
    if (r.skipped) out.skipped = true;
    if (r.unreachable) out.unreachable = true;
    if (Array.isArray(r.results)) out.results = r.results.map((x) => this.censor(x as TaskResult));
    return out;
  }

  describeError(e: unknown, task: TaskNode): string {
    const msg = e instanceof Error ? e.message : String(e);
    if (e instanceof LoopError) return msg;
    return `${msg}\n\nThe error appears to be in '${formatPos(task.pos)}'`;
  }

  private async executeInner(
    task: TaskNode,
    host: HostState,
    scope: TaskScope,
    vars: VarLookup,
    ignoreErrors: boolean,
  ): Promise<TaskOutcome> {
    if (task.loop === undefined) {
      if (!this.conditionsPass(task, vars)) return this.skippedOutcome(task, vars);
      return this.once(task, host, scope, vars, ignoreErrors);
    }

    const lc = (task.loop_control ?? {}) as Record<string, unknown>;
    const loopVar = String(lc.loop_var ?? 'item');
    const indexVar = lc.index_var === undefined ? undefined : String(lc.index_var);
    const extended = lc.extended === undefined ? false : asBool(this.run.templar.template(lc.extended, vars));
    const pause = lc.pause === undefined ? 0 : Number(this.run.templar.template(lc.pause, vars));
    let items: unknown[];
    try {
      items = loopItems(task.loopKind ?? 'loop', task.loop, {
        templar: this.run.templar,
        vars,
        searchPath: this.run.searchPath(task),
      });
    } catch (e) {
      const result: TaskResult = { failed: true, changed: false, msg: (e as Error).message };
      return { status: statusOf(result, ignoreErrors), result };
    }
    if (items.length === 0) {
      const result: TaskResult = {
        changed: false,
        skipped: true,
        skipped_reason: 'No items in the list',
        results: [],
      };
      // Ansible prints one `skipping: [host]` line for an empty loop.
      return { status: 'skipped', result };
    }

    const results: TaskResult[] = [];
    const includes: NonNullable<Effects['include']> = [];
    let delegatedTo: string | undefined;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const loopLayer: Record<string, unknown> = { [loopVar]: item, ansible_loop_var: loopVar };
      if (indexVar) loopLayer[indexVar] = i;
      if (extended) {
        loopLayer.ansible_loop = {
          allitems: items,
          index: i + 1,
          index0: i,
          revindex: items.length - i,
          revindex0: items.length - i - 1,
          first: i === 0,
          last: i === items.length - 1,
          length: items.length,
          previtem: i > 0 ? items[i - 1] : undefined,
          nextitem: i < items.length - 1 ? items[i + 1] : undefined,
        };
      }
      const itemScope: TaskScope = { ...scope, includeParams: [...scope.includeParams, loopLayer] };
      const itemVars = this.varsFor(host, itemScope, task);
      let label: string;
      try {
        label = pyStr(lc.label !== undefined ? this.run.templar.template(lc.label, itemVars) : item);
      } catch {
        label = pyStr(item);
      }
      let out: TaskOutcome;
      if (!this.conditionsPass(task, itemVars)) {
        out = this.skippedOutcome(task, itemVars);
      } else {
        try {
          out = await this.once(task, host, itemScope, itemVars, ignoreErrors);
        } catch (e) {
          const result: TaskResult = { failed: true, changed: false, msg: this.describeError(e, task) };
          out = { status: statusOf(result, ignoreErrors), result };
        }
      }
      const r: TaskResult = {
        ...out.result,
        [loopVar]: item,
        ansible_loop_var: loopVar,
        _ansible_item_label: label,
      };
      if (indexVar) r[indexVar] = i;
      if (extended) r.ansible_loop = loopLayer.ansible_loop;
      results.push(r);
      if (out.effects?.include)
        includes.push(...out.effects.include.map((inc) => ({ ...inc, itemLabel: label })));
      delegatedTo = out.delegatedTo;
      if (out.status === 'unreachable') {
        // An unreachable host stops its loop: the remaining items could not run either.
        return { status: 'unreachable', result: { ...out.result, results }, loop: true };
      }
      // A looped include reports `included: FILE for HOSTS => (item=...)`, not a line per item.
      if (!(INCLUDE_ACTIONS.has(task.action) && out.effects?.include))
        this.run.emitItem(task, host.name, out.status, r, label, out.delegatedTo);
      if (pause > 0 && i < items.length - 1) await new Promise((res) => setTimeout(res, pause * 1000));
    }
    const agg: TaskResult = { results, changed: false, skipped: true };
    for (const r of results) {
      if (r.changed) agg.changed = true;
      if (!r.skipped) agg.skipped = false;
      if (r.failed && !agg.failed) {
        agg.failed = true;
        agg.msg = 'One or more items failed';
      }
    }
    if (!agg.failed) agg.msg = 'All items completed';
    if (agg.skipped) agg.msg = 'All items skipped';
    const outcome: TaskOutcome = { status: statusOf(agg, ignoreErrors), result: agg, loop: true };
    if (includes.length > 0) outcome.effects = { include: includes };
    if (delegatedTo) outcome.delegatedTo = delegatedTo;
    return outcome;
  }

  conditionsPass(task: TaskNode, vars: VarLookup): boolean {
    for (const w of task.when) {
      if (!this.run.templar.condition(w, vars)) {
        this.lastFalseCondition = w;
        return false;
      }
    }
    return true;
  }

  private lastFalseCondition: unknown;

  private skippedOutcome(_task: TaskNode, _vars: VarLookup): TaskOutcome {
    const result: TaskResult = {
      changed: false,
      skipped: true,
      skip_reason: 'Conditional result was False',
      false_condition: this.lastFalseCondition,
    };
    return { status: 'skipped', result };
  }

  /** One execution (one loop item) with until/retries and changed_when/failed_when. */
  private async once(
    task: TaskNode,
    host: HostState,
    scope: TaskScope,
    vars: VarLookup,
    ignoreErrors: boolean,
  ): Promise<TaskOutcome> {
    const hasUntil = task.until !== undefined;
    const retries = hasUntil ? Math.max(0, Number(this.run.templar.template(task.retries ?? 3, vars))) : 0;
    const delay = hasUntil ? Number(this.run.templar.template(task.delay ?? 5, vars)) : 0;
    let attempt = 0;
    for (;;) {
      attempt++;
      const out = await this.action(task, host, scope, vars);
      if (out.status === 'unreachable' || out.result.skipped) return out;
      const withResult: VarLookup = task.register
        ? (n) => (n === task.register ? this.registered(out.result) : vars(n))
        : vars;
      this.applyChangedFailedWhen(task, out.result, withResult);
      if (hasUntil) {
        const done = this.run.templar.condition(task.until, withResult);
        out.result.attempts = attempt;
        if (!done) {
          if (attempt <= retries) {
            this.run.emitRetry(task, host.name, attempt, retries, out.result);
            if (delay > 0) await new Promise((res) => setTimeout(res, delay * 1000));
            continue;
          }
          out.result.failed = true;
          if (!out.result.msg) out.result.msg = 'Retries exhausted';
        }
      }
      out.status = statusOf(out.result, ignoreErrors);
      return out;
    }
  }

  private applyChangedFailedWhen(task: TaskNode, r: TaskResult, vars: VarLookup): void {
    if (task.changed_when && task.changed_when.length > 0) {
      r.changed = task.changed_when.every((c) => this.run.templar.condition(c, vars));
    }
    if (task.failed_when && task.failed_when.length > 0) {
      const failed = task.failed_when.every((c) => this.run.templar.condition(c, vars));
      r.failed_when_result = failed;
      r.failed = failed;
      if (!failed && r.msg === 'non-zero return code') r.msg = '';
    }
  }

  /** Become settings for the task: task keywords > host vars > CLI. */
  become(task: TaskNode, vars: VarLookup): Become | undefined {
    const o = this.run.options;
    const t = (v: unknown) => this.run.templar.template(v, vars);
    const kw = this.kw(task, 'become');
    const enabled =
      kw !== undefined
        ? asBool(t(kw))
        : vars('ansible_become') !== undefined
          ? asBool(t(vars('ansible_become')))
          : Boolean(o.become);
    if (!enabled) return undefined;
    const pick = (k: keyof TaskNode['keywords'], hostVar: string, cli: string | undefined, dflt: string) => {
      const a = this.kw(task, k);
      if (a !== undefined && a !== null) return String(t(a));
      const b = vars(hostVar);
      if (b !== undefined && b !== null) return String(t(b));
      return cli ?? dflt;
    };
    const become: Become = {
      method: pick('become_method', 'ansible_become_method', o.becomeMethod, 'sudo') as Become['method'],
      user: pick('become_user', 'ansible_become_user', o.becomeUser, 'root'),
    };
    const pw = vars('ansible_become_password') ?? vars('ansible_become_pass') ?? o.becomePassword;
    if (pw !== undefined && pw !== null) {
      const s = String(t(pw));
      become.password = s;
      this.run.redactor.add(s);
    }
    const flags = this.kw(task, 'become_flags') ?? vars('ansible_become_flags');
    if (flags) become.flags = String(t(flags));
    const exe = this.kw(task, 'become_exe') ?? vars('ansible_become_exe');
    if (exe) become.exe = String(t(exe));
    return become;
  }

  /** The host whose connection runs the task (delegate_to), templated. */
  delegateOf(task: TaskNode, vars: VarLookup): string | undefined {
    const d = this.kw(task, 'delegate_to');
    if (d === undefined || d === null || d === '') return undefined;
    return String(this.run.templar.template(d, vars));
  }

  /** delegate_facts: facts of a delegated task belong to the delegate. */
  delegateFacts(task: TaskNode, vars: VarLookup): boolean {
    return this.kwBool(task, 'delegate_facts', vars);
  }

  async connectionFor(
    hostName: string,
    task: TaskNode,
    vars: VarLookup,
  ): Promise<{ conn: Connection; spec: ConnectionSpec }> {
    const connKw = this.kw(task, 'connection');
    const lookup: VarLookup =
      connKw !== undefined ? (n) => (n === 'ansible_connection' ? connKw : vars(n)) : vars;
    const spec = this.run.specs.specFor(hostName, (n) => {
      const v = lookup(n);
      return v === undefined ? v : this.run.templar.template(v, lookup);
    });
    const remoteUser = this.kw(task, 'remote_user');
    if (remoteUser !== undefined && vars('ansible_user') === undefined)
      spec.user = String(this.run.templar.template(remoteUser, vars));
    return { conn: await this.run.connector.connect(spec), spec };
  }

  private environment(task: TaskNode, vars: VarLookup): Record<string, string> | undefined {
    const levels = [...(this.run.play.keywords.environment ?? []), ...(task.keywords.environment ?? [])];
    if (levels.length === 0) return undefined;
    const env: Record<string, string> = {};
    for (const level of levels) {
      const v = this.run.templar.template(level, vars);
      if (v && typeof v === 'object' && !Array.isArray(v)) {
        for (const [k, val] of Object.entries(v)) env[k] = typeof val === 'string' ? val : pyStr(val);
      }
    }
    return env;
  }

  /** The action itself: an engine action, or a module planned and run over the connection. */
  private async action(
    task: TaskNode,
    host: HostState,
    scope: TaskScope,
    vars: VarLookup,
  ): Promise<TaskOutcome> {
    if (isEngineAction(task.action)) {
      const out = await runEngineAction(this.run, this, task, host, scope, vars);
      const delegate = out.delegatedTo ?? this.delegateOf(task, vars);
      if (delegate) out.delegatedTo = delegate;
      return out;
    }
    const mod = findModule(task.action);
    if (!mod) {
      const result: TaskResult = {
        failed: true,
        changed: false,
        msg: `couldn't resolve module/action '${task.actionAs}'`,
      };
      return { status: 'failed', result };
    }
    let args = this.run.templar.template(task.args, vars) as Record<string, unknown>;
    args = stripOmit(args, this.run.omit);
    args = this.withModuleDefaults(task, args, vars);
    const v = validateArgs(task.actionAs, mod.args, args);
    if (v.errors.length > 0) {
      return { status: 'failed', result: { failed: true, changed: false, msg: v.errors.join('. ') } };
    }
    // no_log arguments (passwords, copy's content) are masked in what the module returns, as
    // AnsibleModule.exit_json does; the diff is the action's own and stays readable.
    const noLogValues: string[] = [];
    for (const [name, def] of Object.entries(mod.args.options)) {
      const val = v.args[name];
      if (def.noLog && typeof val === 'string' && val.length > 0) noLogValues.push(val);
    }
    const check = this.checkMode(task, vars);
    if (check && mod.check === 'none' && task.action !== 'raw') {
      return {
        status: 'skipped',
        result: {
          changed: false,
          skipped: true,
          msg: `remote module (${task.actionAs}) does not support check mode`,
        },
      };
    }
    const delegate = this.delegateOf(task, vars);
    const connHost = delegate ?? host.name;
    const connVars = delegate ? this.run.hostVarsLookup(delegate) : vars;
    let conn: Connection;
    let spec: ConnectionSpec;
    try {
      ({ conn, spec } = await this.connectionFor(connHost, task, connVars));
    } catch (e) {
      return this.unreachable(e, delegate);
    }
    const become = this.become(task, vars);
    const diff = this.diffMode(task, vars);
    const ctx: PlanContext = {
      host: host.name,
      check,
      diff,
      facts: host.facts,
      remoteUser: become ? become.user : spec.user,
      becoming: Boolean(become),
      remoteTmp: '/tmp',
      files: controllerFiles(this.run.searchPath(task), this.run.decryptFile),
      render: async (source, opts) =>
        this.run.templar.renderTemplateFile(source, vars, { path: opts?.path ?? '' }),
    };
    const timeoutKw = this.kw(task, 'timeout');
    const timeoutMs = timeoutKw ? Number(this.run.templar.template(timeoutKw, vars)) * 1000 : undefined;
    const env = this.environment(task, vars);
    let next = await mod.plan(v.args, ctx);
    try {
      while (isStep(next)) {
        const opts: RunOptions = {};
        if (next.stdin !== undefined) opts.stdin = next.stdin;
        if (become && !next.noBecome) opts.become = become;
        if (env || next.env) opts.env = { ...env, ...next.env };
        if (timeoutMs) opts.timeoutMs = timeoutMs;
        const r = await conn.run(next.script, opts);
        if (r.timedOut) {
          // Ansible's task timeout: the action is abandoned, whatever it did so far.
          const secs = Math.round((timeoutMs ?? 0) / 1000);
          const result: TaskResult = {
            failed: true,
            changed: false,
            msg: `The ${task.actionAs.replace(/^ansible\.builtin\./, '')} action failed to execute in the expected time frame (${secs}) and was terminated`,
          };
          const out: TaskOutcome = { status: 'failed', result };
          if (delegate) out.delegatedTo = delegate;
          return out;
        }
        next = await next.parse(r);
      }
    } catch (e) {
      if (e instanceof UnreachableError) {
        await this.run.connector.drop(connHost);
        return this.unreachable(e, delegate);
      }
      throw e;
    }
    if (next.post_reboot !== undefined && !check && !next.failed) {
      // reboot: the host went down after answering; reconnect and wait for the new boot.
      next = await awaitReboot(next, {
        connect: async () => (await this.connectionFor(connHost, task, connVars)).conn,
        drop: () => this.run.connector.drop(connHost),
      });
    }
    const result = noLogValues.length > 0 ? maskNoLogValues(next, noLogValues) : next;
    if (v.warnings.length > 0) result.warnings = [...(result.warnings ?? []), ...v.warnings];
    if (result.changed === undefined) result.changed = false;
    const out: TaskOutcome = { status: statusOf(result, false), result };
    if (delegate) out.delegatedTo = delegate;
    return out;
  }

  unreachable(e: unknown, delegate?: string): TaskOutcome {
    const msg = e instanceof Error ? e.message : String(e);
    // The hint (what to check next) follows the error as its own sentence.
    const hint = e instanceof UnreachableError && e.hint ? ` (${e.hint})` : '';
    const out: TaskOutcome = {
      status: 'unreachable',
      result: { unreachable: true, changed: false, msg: `${msg}${hint}` },
    };
    if (delegate) out.delegatedTo = delegate;
    return out;
  }

  checkMode(task: TaskNode, vars: VarLookup): boolean {
    const kw = task.keywords.check_mode ?? this.run.play.keywords.check_mode;
    if (kw === undefined || kw === null) return this.run.options.check;
    return asBool(this.run.templar.template(kw, vars));
  }

  diffMode(task: TaskNode, vars: VarLookup): boolean {
    const kw = task.keywords.diff ?? this.run.play.keywords.diff;
    if (kw === undefined || kw === null) return this.run.options.diff;
    return asBool(this.run.templar.template(kw, vars));
  }

  private withModuleDefaults(
    task: TaskNode,
    args: Record<string, unknown>,
    vars: VarLookup,
  ): Record<string, unknown> {
    const levels = [
      ...(this.run.play.keywords.module_defaults ?? []),
      ...(task.keywords.module_defaults ?? []),
    ];
    if (levels.length === 0) return args;
    const mod = findModule(task.action);
    const names = new Set(mod?.names ?? [task.action]);
    let defaults: Record<string, unknown> = {};
    for (const level of levels) {
      const l = this.run.templar.template(level, vars);
      if (!l || typeof l !== 'object') continue;
      for (const [name, d] of Object.entries(l as Record<string, unknown>)) {
        if (names.has(name) && d && typeof d === 'object')
          defaults = { ...defaults, ...(d as Record<string, unknown>) };
      }
    }
    return { ...defaults, ...args };
  }
}
