/**
 * Runs a loaded playbook: for each play, select hosts, split them into `serial` batches, run
 * the play, and finally emit the recap. Returns ansible-playbook's exit code.
 */

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ControllerError, ExitCode, formatPos } from '../errors.js';
import { emptyStats, type HostStats, type RunEvent } from '../events/types.js';
import type { Play, Playbook, TaskNode } from '../playbook/types.js';
import { passwordHash } from '../template/crypt.js';
import { pyStr } from '../template/python.js';
import { fnmatchRegExp } from '../util/fnmatch.js';
import type { DecryptFile } from './controller-files.js';
import type { RunnerOptions } from './options.js';
import { PlayRun, type Redactor, type RunShared } from './play.js';
import type { Connector, InventoryView, SpecResolver, TaskLoader, TemplateEngine } from './ports.js';
import { type HostState, lookupOver, newHostState } from './vars.js';

export interface RunnerDeps {
  options: RunnerOptions;
  inventory: InventoryView;
  templar: TemplateEngine;
  connector: Connector;
  specs: SpecResolver;
  loader: TaskLoader;
  redactor: Redactor;
  emit: (e: RunEvent) => void;
  omit: string;
  decryptFile?: DecryptFile;
  /** Answers vars_prompt questions (asked only when `interactive`; otherwise defaults apply). */
  prompt?: (question: string, opts: { private: boolean }) => Promise<string>;
  /** A terminal is there to answer prompts (vars_prompt, --step). */
  interactive?: boolean;
  /** --step: asked before each task; 'n' skips it, 'c' runs it and every later task without asking. */
  step?: (taskName: string) => Promise<'y' | 'n' | 'c'>;
  /** Set by Ctrl-C: stop scheduling new tasks, let running ones finish. */
  signal?: AbortSignal;
  /** --tags / --skip-tags selection of a task by its effective tags (all tasks when absent). */
  selected?: (tags: string[]) => boolean;
  ansibleVersion?: string;
}

export interface RunOutcome {
  exitCode: number;
  stats: Record<string, HostStats>;
}

function batchesOf(hosts: string[], serial: unknown): string[][] {
  if (serial === undefined || serial === null || serial === '' || serial === 0) return [hosts];
  const specs = Array.isArray(serial) ? serial : [serial];
  const sizes = specs.map((s) => {
    const str = String(s).trim();
    const n = str.endsWith('%') ? Math.floor((Number(str.slice(0, -1)) / 100) * hosts.length) : Number(str);
    return Math.max(1, Number.isFinite(n) ? n : hosts.length);
  });
  const out: string[][] = [];
  let i = 0;
  let k = 0;
  while (i < hosts.length) {
    const size = sizes[Math.min(k, sizes.length - 1)]!;
    out.push(hosts.slice(i, i + size));
    i += size;
    k++;
  }
  return out;
}

function ordered(hosts: string[], order: unknown): string[] {
  switch (String(order ?? 'inventory')) {
    case 'reverse_inventory':
      return [...hosts].reverse();
    case 'sorted':
      return [...hosts].sort();
    case 'reverse_sorted':
      return [...hosts].sort().reverse();
    case 'shuffle': {
      const a = [...hosts];
      for (let i = a.length - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [a[i], a[j]] = [a[j]!, a[i]!];
      }
      return a;
    }
    default:
      return hosts;
  }
}

export async function runPlaybook(pb: Playbook, deps: RunnerDeps): Promise<RunOutcome> {
  const started = Date.now();
  const hosts = new Map<string, HostState>();
  const stats: Record<string, HostStats> = {};
  const hostState = (name: string) => {
    let s = hosts.get(name);
    if (!s) {
      s = newHostState(name);
      hosts.set(name, s);
    }
    return s;
  };
  const statsOf = (name: string) => {
    stats[name] ??= emptyStats();
    return stats[name];
  };
  const o = deps.options;
  let atStartTask = o.startAtTask === undefined;
  const startRe = o.startAtTask === undefined ? undefined : fnmatchRegExp(o.startAtTask);
  // Ansible matches the task's name, or `role : name`, exactly or as a shell-style glob.
  const reachedStartTask = (t: TaskNode) => {
    if (atStartTask) return true;
    const names = [t.name ?? '', t.origin.role && t.name ? `${t.origin.role.name} : ${t.name}` : ''];
    if (names.some((n) => n !== '' && (n === o.startAtTask || startRe!.test(n)))) atStartTask = true;
    return atStartTask;
  };
  const shared: RunShared = {
    options: o,
    inventory: deps.inventory,
    templar: deps.templar,
    connector: deps.connector,
    specs: deps.specs,
    loader: deps.loader,
    redactor: deps.redactor,
    emit: deps.emit,
    hosts,
    hostState,
    stats: statsOf,
    omit: deps.omit,
    playbookDir: pb.plays[0]?.baseDir ?? process.cwd(),
    interrupted: () => deps.signal?.aborted ?? false,
    selected: deps.selected ?? (() => true),
    reachedStartTask,
    stepContinue: { value: false },
    magic: {
      ansible_check_mode: o.check,
      ansible_diff_mode: o.diff,
      ansible_verbosity: o.verbosity,
      ansible_forks: o.forks,
      ansible_run_tags: o.tags.length ? o.tags : ['all'],
      ansible_skip_tags: o.skipTags,
      ansible_version: versionDict(deps.ansibleVersion ?? '2.14.18'),
      ansible_playbook_python: '',
      ansible_limit: o.limit?.join(','),
    },
  };
  if (deps.decryptFile) shared.decryptFile = deps.decryptFile;
  if (deps.step) shared.step = deps.step;
  deps.emit({ type: 'run.start', command: 'playbook', check: o.check, diff: o.diff, time: started });

  for (const play of pb.plays) {
    if (shared.interrupted()) break;
    const aborted = await runPlay(play, shared, deps);
    if (aborted) break;
  }
  if (shared.interrupted()) deps.emit({ type: 'interrupted', time: Date.now() });
  deps.emit({ type: 'recap', stats, durationMs: Date.now() - started, time: Date.now() });
  await deps.connector.closeAll();
  return { exitCode: exitCodeOf(stats, shared.interrupted()), stats };
}

export function exitCodeOf(stats: Record<string, HostStats>, interrupted: boolean): number {
  if (interrupted) return ExitCode.interrupted;
  const all = Object.values(stats);
  if (all.some((s) => s.unreachable > 0)) return ExitCode.unreachable;
  if (all.some((s) => s.failed > 0)) return ExitCode.hostFailed;
  return ExitCode.ok;
}

function versionDict(v: string): Record<string, unknown> {
  const [major, minor, revision] = v.split('.').map(Number);
  return { full: v, major, minor, revision, string: v };
}

/**
 * vars_prompt as ansible-playbook asks it: `prompt [default]: `, hidden when private
 * (the default), asked twice with confirm, hashed with encrypt. A value given with
 * --extra-vars is not asked for; without a terminal the default is taken, and a prompt
 * with no default is an error that says how to pass the value.
 */
async function askVarsPrompt(
  play: Play,
  shared: RunShared,
  deps: RunnerDeps,
  vars: (name: string) => unknown,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const p of play.vars_prompt) {
    if (Object.hasOwn(shared.options.extraVars, p.name)) continue;
    const dflt =
      p.default === undefined || p.default === null
        ? undefined
        : pyStr(shared.templar.template(p.default, vars));
    const text = String(shared.templar.template(p.prompt ?? p.name, vars));
    let value: string;
    if (!deps.prompt || !deps.interactive) {
      if (dflt === undefined) {
        throw new ControllerError(
          `vars_prompt '${p.name}' (${formatPos(play.pos)}) needs an answer, but there is no terminal to ask on`,
          `pass it with -e ${p.name}=VALUE, or give the prompt a default`,
        );
      }
      value = dflt;
    } else {
      const question = dflt === undefined ? `${text}: ` : `${text} [${dflt}]: `;
      const priv = p.private ?? true;
      for (;;) {
        value = await deps.prompt(question, { private: priv });
        if (!p.confirm) break;
        const again = await deps.prompt(`confirm ${question}`, { private: priv });
        if (again === value) break;
        deps.emit({ type: 'warning', message: '***** VALUES ENTERED DO NOT MATCH ****', time: Date.now() });
      }
      if (value === '' && dflt !== undefined) value = dflt;
    }
    if (p.encrypt) {
      const salt = p.salt_size
        ? randomBytes(p.salt_size)
            .toString('base64')
            .replace(/[^A-Za-z0-9./]/g, '.')
            .slice(0, p.salt_size)
        : undefined;
      value = passwordHash(value, String(p.encrypt), salt);
    }
    if (p.private ?? true) shared.redactor.add(value);
    out[p.name] = value;
  }
  return out;
}

/** Returns true when the playbook must stop (a whole batch failed). */
async function runPlay(play: Play, shared: RunShared, deps: RunnerDeps): Promise<boolean> {
  const extra = lookupOver([shared.options.extraVars, (play.keywords.vars ?? {}) as Record<string, unknown>]);
  const playName = play.name
    ? String(shared.templar.template(play.name, extra))
    : String(Array.isArray(play.hosts) ? play.hosts.join(',') : (play.hosts ?? ''));
  const pattern = shared.templar.template(play.hosts, extra) as string | string[];
  const limitOpt = shared.options.limit ? { limit: shared.options.limit } : undefined;
  let selected = shared.inventory.selectHosts(pattern ?? '', limitOpt);
  selected = selected.filter((h) => {
    const s = shared.hosts.get(h);
    return !s || (!s.failed && !s.unreachable);
  });
  // ansible_play_hosts(_all) keep inventory order; `order` only changes how batches run.
  const inInventoryOrder = selected;
  selected = ordered(selected, play.order);
  // Asked before the PLAY banner, as ansible-playbook does.
  const varsPrompt = await askVarsPrompt(play, shared, deps, extra);
  const playRef = { id: play.id, name: playName, pos: play.pos };
  deps.emit({ type: 'play.start', play: playRef, hosts: selected, time: Date.now() });
  if (selected.length === 0) {
    deps.emit({ type: 'play.no_hosts', play: playRef, reason: 'no hosts matched', time: Date.now() });
    return false;
  }
  // A host gets its recap line from its first result, as in ansible-playbook: one that
  // nothing ran on (run_once ran elsewhere, every task tagged out) has none.

  const fileCache = new Map<string, Promise<Record<string, unknown>>>();
  const resolvedVarsFiles = new Map<string, Record<string, unknown>>();
  // vars_files may be templated per host; load them up front for each host of the play.
  for (const h of selected) {
    const merged: Record<string, unknown> = {};
    const st = shared.hosts.get(h);
    const lookup = lookupOver([
      shared.options.extraVars,
      (play.keywords.vars ?? {}) as Record<string, unknown>,
      st?.hostFacts ?? {},
      shared.inventory.magicVars(h),
      shared.inventory.hostVars(h),
    ]);
    for (const entry of play.vars_files) {
      const candidates = (Array.isArray(entry) ? entry : [entry]).map((f) => {
        const path = String(shared.templar.template(f, lookup));
        return isAbsolute(path) ? path : join(play.baseDir, path);
      });
      const found = candidates.find((c) => existsSync(c));
      if (!found) {
        throw new Error(
          `vars file ${candidates.join(' or ')} was not found (play '${playName}', ${play.file})`,
        );
      }
      let p = fileCache.get(found);
      if (!p) {
        p = shared.loader.loadVarsFile(found);
        fileCache.set(found, p);
      }
      Object.assign(merged, await p);
    }
    resolvedVarsFiles.set(h, merged);
  }

  const run = new PlayRun(shared, play, (h) => resolvedVarsFiles.get(h) ?? {}, inInventoryOrder, varsPrompt);
  await run.run(
    batchesOf(selected, play.serial === undefined ? undefined : shared.templar.template(play.serial, extra)),
  );
  deps.emit({ type: 'play.end', play: playRef, time: Date.now() });
  return run.abortedAll;
}
