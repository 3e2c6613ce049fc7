/**
 * Engine actions: tasks that run on the controller and touch the runner's state
 * (variables, inventory, the task list) instead of, or before, a host.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { TaskResult } from '../../modules/types.js';
import { gatherFacts } from '../facts/gather.js';
import type { TaskNode } from '../playbook/types.js';
import type { Effects, TaskExecutor, TaskOutcome } from './executor.js';
import { asBool, statusOf } from './executor.js';
import type { PlayRun } from './play.js';
import type { VarLookup } from './ports.js';
import type { HostState, TaskScope } from './vars.js';

type Action = (
  run: PlayRun,
  ex: TaskExecutor,
  task: TaskNode,
  host: HostState,
  scope: TaskScope,
  vars: VarLookup,
) => Promise<TaskOutcome>;

const ok = (result: TaskResult, effects?: Effects): TaskOutcome => {
  const out: TaskOutcome = { status: statusOf(result, false), result };
  if (effects) out.effects = effects;
  return out;
};

function args(run: PlayRun, task: TaskNode, vars: VarLookup): Record<string, unknown> {
  const a = run.templar.template(task.args, vars) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a)) if (v !== run.omit) out[k] = v;
  return out;
}

function listOf(v: unknown): unknown[] {
  return v === undefined || v === null ? [] : Array.isArray(v) ? v : [v];
}

const debug: Action = async (run, _ex, task, _host, _scope, vars) => {
  const raw = task.args;
  const verbosity = raw.verbosity === undefined ? 0 : Number(run.templar.template(raw.verbosity, vars));
  if (verbosity > run.options.verbosity) {
    return ok({ changed: false, skipped: true, skipped_reason: 'Verbosity threshold not met.' });
  }
  if (raw.var !== undefined) {
    const name = String(raw.var);
    let value: unknown;
    try {
      value = run.templar.template(`{{ ${name} }}`, vars);
    } catch {
      value = 'VARIABLE IS NOT DEFINED!';
    }
    return ok({ [name]: value, changed: false, _ansible_verbose_always: true });
  }
  // msg may be any type (a list prints as a list), so it is not TaskResult's string msg.
  const msg = raw.msg === undefined ? 'Hello world!' : run.templar.template(raw.msg, vars);
  const result: Record<string, unknown> = { msg, changed: false, _ansible_verbose_always: true };
  return ok(result as TaskResult);
};

const setFact: Action = async (run, ex, task, taskHost, _scope, vars) => {
  const a = args(run, task, vars);
  const cacheable = a.cacheable === undefined ? false : asBool(a.cacheable);
  delete a.cacheable;
  const delegate = ex.delegateOf(task, vars);
  const host = delegate && ex.delegateFacts(task, vars) ? run.shared.hostState(delegate) : taskHost;
  for (const [k, v] of Object.entries(a)) host.hostFacts[k] = v;
  // cacheable: a real fact too (ansible_facts.x), which meta: clear_facts removes again.
  if (cacheable) Object.assign(host.facts, a);
  return ok({ ansible_facts: a, changed: false });
};

const assertAction: Action = async (run, _ex, task, _host, _scope, vars) => {
  const raw = task.args;
  const that = listOf(raw.that);
  const quiet = raw.quiet === undefined ? false : asBool(run.templar.template(raw.quiet, vars));
  for (const cond of that) {
    let passed: boolean;
    try {
      passed = run.templar.condition(cond, vars);
    } catch (e) {
      return ok({ failed: true, changed: false, assertion: cond, msg: (e as Error).message });
    }
    if (!passed) {
      const fm = raw.fail_msg ?? raw.msg;
      const failed: Record<string, unknown> = {
        failed: true,
        changed: false,
        assertion: cond,
        evaluated_to: false,
        msg: fm === undefined ? 'Assertion failed' : run.templar.template(fm, vars),
      };
      return ok(failed as TaskResult);
    }
  }
  const sm = raw.success_msg;
  const result: Record<string, unknown> = {
    changed: false,
    msg: sm === undefined ? 'All assertions passed' : run.templar.template(sm, vars),
  };
  if (!quiet) result._ansible_verbose_always = true;
  return ok(result as TaskResult);
};

const fail: Action = async (run, _ex, task, _host, _scope, vars) => {
  const msg =
    task.args.msg === undefined ? 'Failed as requested from task' : run.templar.template(task.args.msg, vars);
  return ok({ failed: true, changed: false, msg: typeof msg === 'string' ? msg : JSON.stringify(msg) });
};

const meta: Action = async (run, _ex, task, _host, _scope, vars) => {
  const what = String(run.templar.template(task.args._raw_params ?? task.args.free_form ?? '', vars)).trim();
  return ok({ changed: false, _drover_meta: what }, { meta: what });
};

/** Resolve a vars/tasks file the way Ansible does: role dir, the task file's dir, playbook dir. */
function resolveFile(run: PlayRun, task: TaskNode, sub: string, file: string): string {
  if (isAbsolute(file)) return file;
  const candidates: string[] = [];
  const role = task.origin.role;
  if (role) candidates.push(join(role.path, sub, file), join(role.path, file));
  candidates.push(join(task.origin.baseDir, sub, file), join(task.origin.baseDir, file));
  candidates.push(join(run.play.baseDir, sub, file), join(run.play.baseDir, file));
  return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
}

const includeVars: Action = async (run, _ex, task, host, _scope, vars) => {
  const a = args(run, task, vars);
  const files: string[] = [];
  const free = a._raw_params ?? a.file;
  if (free !== undefined) files.push(resolveFile(run, task, 'vars', String(free)));
  if (a.dir !== undefined) {
    const dir = resolveFile(run, task, 'vars', String(a.dir));
    const exts = listOf(a.extensions ?? ['yaml', 'yml', 'json']).map(String);
    const ignore = new Set(listOf(a.ignore_files).map(String));
    const matching = a.files_matching === undefined ? undefined : new RegExp(String(a.files_matching));
    const depth = a.depth === undefined ? 0 : Number(a.depth);
    const walk = (d: string, level: number) => {
      for (const name of readdirSync(d).sort()) {
        const full = join(d, name);
        if (statSync(full).isDirectory()) {
          if (depth === 0 || level < depth) walk(full, level + 1);
          continue;
        }
        const ext = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : '';
        if (!exts.includes(ext) || ignore.has(name) || (matching && !matching.test(name))) continue;
        files.push(full);
      }
    };
    if (!existsSync(dir))
      return ok({ failed: true, changed: false, msg: `${String(a.dir)} directory does not exist` });
    walk(dir, 1);
  }
  const loaded: Record<string, unknown> = {};
  for (const f of files) {
    if (!existsSync(f)) {
      return ok({
        failed: true,
        changed: false,
        msg: `Could not find or access '${String(free)}'\nSearched in:\n\t${f}`,
      });
    }
    Object.assign(loaded, await run.loader.loadVarsFile(f));
  }
  const facts = a.name !== undefined ? { [String(a.name)]: loaded } : loaded;
  Object.assign(host.includeVars, facts);
  return ok({ ansible_facts: facts, ansible_included_var_files: files, changed: false });
};

const includeTasks: Action = async (run, _ex, task, _host, scope, vars) => {
  const a = args(run, task, vars);
  const file = String(a._raw_params ?? a.file ?? '');
  const path = resolveFile(run, task, 'tasks', file);
  const nodes = await run.includeFile(path, { ...task.origin, baseDir: dirname(path) });
  const params = (task.keywords.vars ?? {}) as Record<string, unknown>;
  const inc: TaskScope = { ...scope, includeParams: [...scope.includeParams, params] };
  return ok(
    { changed: false, include: file, include_args: a },
    { include: [{ nodes, scope: inc, file: path }] },
  );
};

const includeRole: Action = async (run, _ex, task, _host, scope, vars) => {
  const a = args(run, task, vars);
  const name = String(a.name ?? a._raw_params ?? '');
  const params: Record<string, unknown> = { ...((task.keywords.vars ?? {}) as Record<string, unknown>) };
  const role = await run.includeRole(name, task, a);
  Object.assign(role.params, params);
  const nodes = run.roleNodes(role);
  run.noteRole(role);
  const inner: TaskScope = { ...scope, roles: [...scope.roles, role] };
  const parent = task.origin.role;
  if (parent) inner.parentRoleNames = [parent.name, ...(scope.parentRoleNames ?? [])];
  else delete inner.parentRoleNames;
  return ok(
    { changed: false, include: name, include_args: a },
    { include: [{ nodes, scope: inner, file: role.path }] },
  );
};

const addHost: Action = async (run, _ex, task, _host, _scope, vars) => {
  const a = args(run, task, vars);
  const name = String(a.name ?? a.hostname ?? a.host ?? '');
  const groups = listOf(a.groups ?? a.group ?? a.groupname).flatMap((g) => String(g).split(','));
  const hostVars: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a)) {
    if (['name', 'hostname', 'host', 'groups', 'group', 'groupname'].includes(k)) continue;
    hostVars[k] = v;
  }
  const [hostName, port] = name.includes(':') && !name.includes('[') ? name.split(':') : [name, undefined];
  if (port) hostVars.ansible_port = Number(port);
  run.inventory.addHost(hostName!, groups, hostVars);
  return ok({ changed: true, add_host: { host_name: hostName, groups, host_vars: hostVars } });
};

const groupBy: Action = async (run, _ex, task, host, _scope, vars) => {
  const a = args(run, task, vars);
  const key = String(a.key ?? a._raw_params ?? '').replace(/[^A-Za-z0-9_]/g, '_');
  const parents = listOf(a.parents ?? 'all').map(String);
  // Changed when the host joins the group now (Ansible's strategy reports it so).
  const changed = !(run.inventory.groups()[key] ?? []).includes(host.name);
  run.inventory.addGroupMembership(host.name, key, parents);
  return ok({ changed, add_group: key, parent_groups: parents });
};

const pause: Action = async (run, _ex, task, _host, _scope, vars) => {
  const a = args(run, task, vars);
  const start = new Date();
  const seconds =
    a.seconds !== undefined ? Number(a.seconds) : a.minutes !== undefined ? Number(a.minutes) * 60 : 0;
  if (seconds > 0) await new Promise((r) => setTimeout(r, seconds * 1000));
  const stop = new Date();
  return ok({
    changed: false,
    start: start.toISOString(),
    stop: stop.toISOString(),
    delta: Math.round((stop.getTime() - start.getTime()) / 1000),
    echo: true,
    user_input: '',
  });
};

const waitForConnection: Action = async (run, ex, task, host, _scope, vars) => {
  const a = args(run, task, vars);
  const timeout = Number(a.timeout ?? 600) * 1000;
  const sleep = Number(a.sleep ?? 1) * 1000;
  const delay = Number(a.delay ?? 0) * 1000;
  if (delay) await new Promise((r) => setTimeout(r, delay));
  const start = Date.now();
  let lastErr = '';
  while (Date.now() - start < timeout) {
    try {
      await run.connector.drop(host.name);
      const { conn } = await ex.connectionFor(host.name, task, vars);
      const r = await conn.run('echo pong');
      if (r.rc === 0) return ok({ changed: false, elapsed: Math.round((Date.now() - start) / 1000) });
    } catch (e) {
      lastErr = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, sleep));
  }
  return ok({ failed: true, changed: false, msg: `timed out waiting for connection: ${lastErr}` });
};

const setup: Action = async (run, ex, task, host, _scope, vars) => {
  const a = args(run, task, vars);
  let conn: Awaited<ReturnType<TaskExecutor['connectionFor']>>;
  // delegate_to gathers on the delegate; delegate_facts gives the facts to it too.
  const delegate = ex.delegateOf(task, vars);
  const owner = delegate && ex.delegateFacts(task, vars) ? run.shared.hostState(delegate) : host;
  try {
    conn = await ex.connectionFor(
      delegate ?? host.name,
      task,
      delegate ? run.hostVarsLookup(delegate) : vars,
    );
  } catch (e) {
    return ex.unreachable(e, delegate);
  }
  const become = ex.become(task, vars);
  try {
    const facts = await gatherFacts(conn.conn, {
      subset: listOf(a.gather_subset ?? run.play.gather_subset ?? ['all']).map(String),
      filter: listOf(a.filter).map(String),
      become,
    });
    Object.assign(owner.facts, facts);
    return ok({ ansible_facts: facts, changed: false });
  } catch (e) {
    if ((e as Error).name === 'UnreachableError') return ex.unreachable(e, delegate);
    return ok({ failed: true, changed: false, msg: `fact gathering failed: ${(e as Error).message}` });
  }
};

const setStats: Action = async () => ok({ changed: false });

const ACTIONS: Record<string, Action> = {
  debug,
  set_fact: setFact,
  assert: assertAction,
  fail,
  meta,
  include_vars: includeVars,
  include_tasks: includeTasks,
  include: includeTasks,
  include_role: includeRole,
  add_host: addHost,
  group_by: groupBy,
  pause,
  wait_for_connection: waitForConnection,
  setup,
  gather_facts: setup,
  set_stats: setStats,
};

export function isEngineAction(name: string): boolean {
  return Object.hasOwn(ACTIONS, name);
}

/** Actions that run once per task, not per host (Ansible's BYPASS_HOST_LOOP). */
export const BYPASS_HOST_LOOP = new Set(['add_host', 'pause']);

export function runEngineAction(
  run: PlayRun,
  ex: TaskExecutor,
  task: TaskNode,
  host: HostState,
  scope: TaskScope,
  vars: VarLookup,
): Promise<TaskOutcome> {
  return ACTIONS[task.action]!(run, ex, task, host, scope, vars);
}
