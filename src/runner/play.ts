/**
 * Runs one play. Each host walks the task tree on its own (blocks, rescue/always, includes,
 * loops are plain control flow per host); the `linear` strategy puts a barrier in front of
 * every task so hosts advance in lockstep, always dispatching the waiting task that comes
 * first in tree order (which also gives Ansible's order of block tasks before rescue before
 * always). `free` has no barrier.
 */
import pLimit from 'p-limit';
import type { TaskResult } from '../../modules/types.js';
import type { HostStatus, PlayRef, RunEvent } from '../events/types.js';
import type { BlockNode, Play, PlayNode, RoleInstance, TaskNode, TaskOrigin } from '../playbook/types.js';
import { BYPASS_HOST_LOOP } from './actions.js';
import type { DecryptFile } from './controller-files.js';
import { TaskExecutor, type TaskOutcome, taskRef } from './executor.js';
import type { RunnerOptions } from './options.js';
import type { RunnerDeps } from './playbook.js';
import type {
  Connector,
  InventoryView,
  SpecResolver,
  TaskLoader,
  TemplateEngine,
  VarLookup,
} from './ports.js';
import {
  EMPTY_SCOPE,
  factLayer,
  type HostState,
  lookupOver,
  type PlayLayers,
  type TaskScope,
} from './vars.js';

export interface Redactor {
  add(secret: string): void;
  redactValue<T>(v: T): T;
}

/** Shared by all plays of one playbook run: the run's parts (RunnerDeps) plus its state. */
export interface RunShared
  extends Pick<
    RunnerDeps,
    | 'options'
    | 'inventory'
    | 'templar'
    | 'connector'
    | 'specs'
    | 'loader'
    | 'redactor'
    | 'emit'
    | 'omit'
    | 'decryptFile'
    | 'step'
  > {
  hosts: Map<string, HostState>;
  hostState: (name: string) => HostState;
  stats: (host: string) => import('../events/types.js').HostStats;
  playbookDir: string;
  interrupted: () => boolean;
  /** Selected by --tags / --skip-tags? */
  selected: (tags: string[]) => boolean;
  /** Extra magic vars of the run (ansible_version, ansible_check_mode, ...). */
  magic: Record<string, unknown>;
  /** --step answered 'c' (continue): no more questions for the rest of the run. */
  stepContinue: { value: boolean };
  /** --start-at-task: false for every task until the named one is reached (then true for good). */
  reachedStartTask: (task: TaskNode) => boolean;
}

type WalkResult = 'ok' | 'failed' | 'stopped';

interface Waiter {
  host: HostState;
  scope: TaskScope;
  path: number[];
  resolve: (o: TaskOutcome | undefined) => void;
}

function comparePaths(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

export class PlayRun {
  readonly layers: PlayLayers;
  readonly executor: TaskExecutor;
  private readonly limit: ReturnType<typeof pLimit>;
  private readonly includeCache = new Map<string, Promise<PlayNode[]>>();
  private handlers: TaskNode[] = [];
  private batch: string[] = [];
  private endPlay = false;
  private syntheticSeq = 0;

  constructor(
    readonly shared: RunShared,
    readonly play: Play,
    private readonly varsFiles: (host: string) => Record<string, unknown>,
    readonly playHosts: string[],
    private readonly varsPrompt: Record<string, unknown>,
  ) {
    this.limit = pLimit(Math.max(1, shared.options.forks));
    const playVars = (play.keywords.vars ?? {}) as Record<string, unknown>;
    this.layers = {
      extraVars: shared.options.extraVars,
      playVars,
      varsPrompt,
      varsFiles,
      magic: (host) => this.magicVars(host),
      inventory: (host) => shared.inventory.hostVars(host),
    };
    this.executor = new TaskExecutor(this);
    this.handlers = this.collectHandlers(play);
    this.collectRoleNames(play);
  }

  private playNameCache: string | undefined;

  /** ansible_play_role_names: roles of the play and import_role'd ones; grows with include_role. */
  readonly playRoleNames: string[] = [];
  /** ansible_role_names: those plus their dependencies. */
  readonly roleNames: string[] = [];

  private collectRoleNames(play: Play): void {
    for (const r of play.roles) this.noteRole(r);
    const visit = (nodes: PlayNode[]) => {
      for (const n of nodes) {
        if (n.kind === 'block') {
          visit(n.block);
          visit(n.rescue);
          visit(n.always);
        } else if (n.origin.role && !this.playRoleNames.includes(n.origin.role.name))
          this.noteRole(n.origin.role);
      }
    };
    visit(play.pre_tasks);
    visit(play.tasks);
    visit(play.post_tasks);
  }

  /** Records a role (and its dependencies) in the role-name magic vars; arrays mutate in place. */
  noteRole(role: RoleInstance): void {
    if (!this.playRoleNames.includes(role.name)) this.playRoleNames.push(role.name);
    const addDeps = (r: RoleInstance) => {
      if (!this.roleNames.includes(r.name)) this.roleNames.push(r.name);
      for (const d of r.dependencies) addDeps(d);
    };
    addDeps(role);
  }

  get options(): RunnerOptions {
    return this.shared.options;
  }
  get templar(): TemplateEngine {
    return this.shared.templar;
  }
  get inventory(): InventoryView {
    return this.shared.inventory;
  }
  get connector(): Connector {
    return this.shared.connector;
  }
  get specs(): SpecResolver {
    return this.shared.specs;
  }
  get loader(): TaskLoader {
    return this.shared.loader;
  }
  get redactor(): Redactor {
    return this.shared.redactor;
  }
  get omit(): string {
    return this.shared.omit;
  }
  get decryptFile(): DecryptFile | undefined {
    return this.shared.decryptFile;
  }

  private magicVars(host: string): Record<string, unknown> {
    this.playNameCache ??= this.playName();
    const inv = this.shared.inventory;
    const { playHosts, shared } = this;
    // `groups` and `ansible_play_hosts` cost O(hosts) each, for every task on every host
    // (O(hosts²) per task: most of the runner's CPU at 1000 hosts): built on first read.
    const out: Record<string, unknown> = {
      ...this.shared.magic,
      ...inv.magicVars(host),
      get groups() {
        return settle(out, 'groups', inv.groups());
      },
      hostvars: this.hostvarsProxy(),
      play_hosts: this.batch,
      get ansible_play_hosts() {
        return settle(
          out,
          'ansible_play_hosts',
          playHosts.filter((h) => {
            const s = shared.hosts.get(h);
            return !s || (!s.failed && !s.unreachable);
          }),
        );
      },
      ansible_play_hosts_all: this.playHosts,
      ansible_play_batch: this.batch,
      ansible_play_name: this.playNameCache,
      ansible_play_role_names: this.playRoleNames,
      ansible_role_names: this.roleNames,
      playbook_dir: this.play.baseDir,
      omit: this.shared.omit,
    };
    return out;
  }

  private hostvarsCache: Record<string, unknown> | undefined;

  /** hostvars[h].x resolves h's variables (inventory, facts, set_fact) templated with h's own vars. */
  private hostvarsProxy(): Record<string, unknown> {
    if (this.hostvarsCache) return this.hostvarsCache;
    const self = this;
    const hostView = (h: string) => {
      const lookup = self.hostVarsLookup(h);
      return new Proxy(
        {},
        {
          get(_t, prop) {
            if (typeof prop !== 'string') return undefined;
            const v = lookup(prop);
            return v === undefined ? undefined : self.templar.template(v, lookup);
          },
          has(_t, prop) {
            return typeof prop === 'string' && lookup(prop) !== undefined;
          },
          ownKeys() {
            const st = self.shared.hostState(h);
            return [
              ...new Set([
                ...Object.keys(self.shared.inventory.hostVars(h)),
                ...Object.keys(factLayer(st.facts)),
                ...Object.keys(st.hostFacts),
                ...Object.keys(self.shared.inventory.magicVars(h)),
              ]),
            ];
          },
          getOwnPropertyDescriptor(_t, prop) {
            if (typeof prop !== 'string') return undefined;
            const v = lookup(prop);
            return v === undefined
              ? undefined
              : { value: self.templar.template(v, lookup), enumerable: true, configurable: true };
          },
        },
      );
    };
    this.hostvarsCache = new Proxy(
      {},
      {
        get(_t, prop) {
          if (typeof prop !== 'string' || !self.shared.inventory.hasHost(prop)) return undefined;
          return hostView(prop);
        },
        has(_t, prop) {
          return typeof prop === 'string' && self.shared.inventory.hasHost(prop);
        },
        ownKeys() {
          return self.shared.inventory.hostNames();
        },
        getOwnPropertyDescriptor(_t, prop) {
          if (typeof prop !== 'string' || !self.shared.inventory.hasHost(prop)) return undefined;
          return { value: hostView(prop), enumerable: true, configurable: true };
        },
      },
    );
    return this.hostvarsCache;
  }

  /** A host's variables outside any task: what hostvars[host] and delegation see. */
  hostVarsLookup(host: string): VarLookup {
    const st = this.shared.hostState(host);
    return lookupOver([
      this.magicVars(host),
      this.shared.options.extraVars,
      st.hostFacts,
      st.includeVars,
      this.varsFiles(host),
      this.varsPrompt,
      this.layers.playVars,
      factLayer(st.facts),
      this.shared.inventory.hostVars(host),
    ]);
  }

  /** Controller dirs searched for files/templates/vars of a task: role, task file dir, playbook dir. */
  searchPath(task: TaskNode): string[] {
    const dirs: string[] = [];
    const role = task.origin.role;
    if (role) dirs.push(role.path);
    dirs.push(task.origin.baseDir, this.play.baseDir);
    return [...new Set(dirs)];
  }

  emit(e: RunEvent): void {
    this.shared.emit(e);
  }

  emitItem(
    task: TaskNode,
    host: string,
    status: HostStatus,
    result: TaskResult,
    label: string,
    delegatedTo?: string,
  ): void {
    const e: RunEvent = {
      type: 'host.item',
      host,
      task: taskRef(task),
      status,
      result: this.shared.redactor.redactValue(result),
      itemLabel: this.shared.redactor.redactValue(label),
      time: Date.now(),
    };
    if (delegatedTo) e.delegatedTo = delegatedTo;
    this.emit(e);
  }

  emitRetry(task: TaskNode, host: string, attempt: number, retries: number, result: TaskResult): void {
    this.emit({
      type: 'host.retry',
      host,
      task: taskRef(task),
      attempt,
      retries,
      result: this.shared.redactor.redactValue(result),
      time: Date.now(),
    });
  }

  // ---- includes and roles -------------------------------------------------

  /** Included files load once per path, so hosts including the same file share task nodes (lockstep). */
  includeFile(path: string, origin: TaskOrigin): Promise<PlayNode[]> {
    const key = `${origin.role?.path ?? ''}\0${path}`;
    let p = this.includeCache.get(key);
    if (!p) {
      p = this.shared.loader.loadTasksFile(path, origin);
      this.includeCache.set(key, p);
    }
    return p;
  }

  async includeRole(name: string, task: TaskNode, args: Record<string, unknown>): Promise<RoleInstance> {
    const key = `role\0${name}\0${JSON.stringify(args)}`;
    let p = this.roleCache.get(key);
    if (!p) {
      p = this.shared.loader.loadRole(name, task.origin.baseDir, args, task.origin);
      this.roleCache.set(key, p);
    }
    const role = await p;
    for (const h of role.handlers) this.addHandlerNodes([h], role);
    return role;
  }
  private readonly roleCache = new Map<string, Promise<RoleInstance>>();

  /** A role's nodes with its dependencies first, as a block per role so the role scope applies. */
  roleNodes(role: RoleInstance): PlayNode[] {
    return role.tasks;
  }

  private collectHandlers(play: Play): TaskNode[] {
    const out: TaskNode[] = [];
    const seen = new Set<RoleInstance>();
    const visitRole = (r: RoleInstance) => {
      if (seen.has(r)) return;
      seen.add(r);
      for (const d of r.dependencies) visitRole(d);
      out.push(...flattenTasks(r.handlers));
    };
    for (const r of play.roles) visitRole(r);
    out.push(...flattenTasks(play.handlers));
    return out;
  }

  private addHandlerNodes(nodes: PlayNode[], _role?: RoleInstance): void {
    for (const t of flattenTasks(nodes)) if (!this.handlers.includes(t)) this.handlers.push(t);
  }

  // ---- the play -----------------------------------------------------------

  async run(batches: string[][]): Promise<void> {
    const playRef: PlayRef = { id: this.play.id, name: this.playName(), pos: this.play.pos };
    let first = true;
    for (const batch of batches) {
      if (this.endPlay || this.shared.interrupted()) break;
      this.batch = batch.filter((h) => {
        const s = this.shared.hostState(h);
        return !s.failed && !s.unreachable;
      });
      for (const h of this.batch) this.shared.hostState(h).ended = false;
      if (this.batch.length === 0) continue;
      // ansible-playbook announces the play again for each serial batch.
      if (!first) this.emit({ type: 'play.start', play: playRef, hosts: this.batch, time: Date.now() });
      first = false;
      await this.runBatch(playRef);
      const failedInBatch = this.batch.filter((h) => {
        const s = this.shared.hostState(h);
        return s.failed || s.unreachable;
      });
      // A batch that failed entirely ends the playbook, silently (Ansible's linear strategy
      // prints NO MORE HOSTS LEFT only when a failure policy ended the play: see below).
      if (failedInBatch.length === this.batch.length) {
        this.abortedAll = true;
        break;
      }
    }
  }

  /** Every host of a batch failed or was unreachable: Ansible stops the whole playbook. */
  abortedAll = false;

  playName(): string {
    if (this.play.name) {
      try {
        return String(
          this.templar.template(
            this.play.name,
            lookupOver([this.shared.options.extraVars, this.layers.playVars]),
          ),
        );
      } catch {
        return this.play.name;
      }
    }
    const h = this.play.hosts;
    return Array.isArray(h) ? h.join(',') : String(h ?? '');
  }

  private walkNodesOfPlay(): { nodes: WalkItem[] } {
    const items: WalkItem[] = [];
    const gather = this.play.gather_facts;
    const gatherOn =
      gather === undefined || gather === null
        ? true
        : this.templar.condition(gather, lookupOver([this.options.extraVars]));
    if (gatherOn) items.push({ kind: 'facts' });
    items.push(...this.play.pre_tasks.map(node), { kind: 'flush' });
    for (const r of this.play.roles) items.push({ kind: 'role', role: r });
    items.push(...this.play.tasks.map(node), { kind: 'flush' });
    items.push(...this.play.post_tasks.map(node), { kind: 'flush' });
    return { nodes: items };
  }

  private factsTask(): TaskNode {
    return this.synthetic('Gathering Facts', 'setup', {});
  }

  private flushTask(): TaskNode {
    return this.synthetic('meta: flush_handlers', 'meta', { _raw_params: 'flush_handlers' });
  }

  private synthetics = new Map<string, TaskNode>();
  /** The play's own tasks (fact gathering, the flush at each section's end): no banner for metas. */
  private readonly implicitTasks = new Set<TaskNode>();

  private synthetic(name: string, action: string, args: Record<string, unknown>): TaskNode {
    const key = `${name}\0${this.syntheticSeq}`;
    const t: TaskNode = {
      kind: 'task',
      id: `${this.play.id}:${name}:${this.syntheticSeq++}`,
      name,
      action,
      actionAs: action,
      args,
      when: [],
      tags: ['always'],
      keywords: {},
      origin: { baseDir: this.play.baseDir },
      pos: this.play.pos,
    };
    if (action === 'setup' && this.play.gather_subset !== undefined)
      t.args = { gather_subset: this.play.gather_subset };
    this.synthetics.set(key, t);
    this.implicitTasks.add(t);
    return t;
  }

  private async runBatch(_playRef: PlayRef): Promise<void> {
    const strategy = String(this.play.strategy ?? 'linear');
    const free = strategy === 'free';
    const { nodes } = this.walkNodesOfPlay();
    const factsTask = this.factsTask();
    const flushTasks = new Map<number, TaskNode>();
    const gate = free ? undefined : new Lockstep(this);
    const walk = async (host: HostState) => {
      try {
        for (let i = 0; i < nodes.length; i++) {
          if (this.stopped(host)) break;
          const it = nodes[i]!;
          const path = [i];
          if (it.kind === 'facts') {
            await this.runTask(gate, factsTask, host, EMPTY_SCOPE, path, { forced: true });
          } else if (it.kind === 'flush') {
            let t = flushTasks.get(i);
            if (!t) {
              t = this.flushTask();
              flushTasks.set(i, t);
            }
            await this.runTask(gate, t, host, EMPTY_SCOPE, path, { forced: true });
          } else if (it.kind === 'role') {
            await this.walkRole(gate, it.role, host, EMPTY_SCOPE, path, new Set());
          } else {
            await this.walkNodes(gate, [it.node], host, EMPTY_SCOPE, path, false);
          }
        }
      } finally {
        gate?.done();
      }
    };
    const hosts = this.batch.map((h) => this.shared.hostState(h));
    gate?.start(hosts.length);
    await Promise.all(hosts.map((h) => walk(h)));
    // Hosts that failed before a flush point still run their notified handlers when forced.
    if (this.forcingHandlers() && !this.shared.interrupted()) {
      const pending = hosts.filter((h) => h.failed && !h.unreachable && h.notified.size > 0);
      if (pending.length > 0) await this.flushHandlers(pending);
    }
  }

  private stopped(host: HostState): boolean {
    return host.failed || host.unreachable || host.ended || this.endPlay || this.shared.interrupted();
  }

  private async walkRole(
    gate: Lockstep | undefined,
    role: RoleInstance,
    host: HostState,
    scope: TaskScope,
    path: number[],
    seen: Set<RoleInstance>,
  ): Promise<WalkResult> {
    const inner: TaskScope = { ...scope, roles: [...scope.roles, role] };
    let i = 0;
    for (const dep of role.dependencies) {
      if (seen.has(dep) && !dep.allowDuplicates) continue;
      seen.add(dep);
      const r = await this.walkRole(gate, dep, host, inner, [...path, i++], seen);
      if (r !== 'ok') return r;
    }
    return this.walkNodes(gate, role.tasks, host, inner, [...path, i], false);
  }

  /**
   * Walks nodes for one host. `rescuable` says an enclosing block has a rescue section that
   * would catch a failure here (so the failure counts as rescued, not failed).
   */
  private async walkNodes(
    gate: Lockstep | undefined,
    nodes: PlayNode[],
    host: HostState,
    scope: TaskScope,
    path: number[],
    rescuable: boolean,
  ): Promise<WalkResult> {
    for (let i = 0; i < nodes.length; i++) {
      if (this.stopped(host)) return 'stopped';
      const n = nodes[i]!;
      const p = [...path, i];
      if (n.kind === 'block') {
        const r = await this.walkBlock(gate, n, host, scope, p, rescuable);
        if (r !== 'ok') return r;
        continue;
      }
      if (!this.shared.selected(n.tags)) continue;
      if (!this.shared.reachedStartTask(n)) continue;
      const out = await this.runTask(gate, n, host, scope, p, { rescuable });
      if (!out) continue;
      if (out.status === 'failed' || out.status === 'unreachable') return 'failed';
      for (const inc of out.effects?.include ?? []) {
        const r = await this.walkNodes(gate, inc.nodes, host, inc.scope, [...p, 0], rescuable);
        if (r !== 'ok') return r;
      }
    }
    return 'ok';
  }

  private async walkBlock(
    gate: Lockstep | undefined,
    b: BlockNode,
    host: HostState,
    scope: TaskScope,
    path: number[],
    rescuable: boolean,
  ): Promise<WalkResult> {
    const hasRescue = b.rescue.length > 0;
    let r = await this.walkNodes(gate, b.block, host, scope, [...path, 0], rescuable || hasRescue);
    if (r === 'failed' && hasRescue && !host.unreachable) {
      host.failed = false;
      if (host.lastFailure) {
        // Ansible sets these as non-persistent facts for the rescue section.
        host.hostFacts.ansible_failed_task = host.lastFailure.task;
        host.hostFacts.ansible_failed_result = host.lastFailure.result;
      }
      r = await this.walkNodes(gate, b.rescue, host, scope, [...path, 1], rescuable);
    }
    if (b.always.length > 0 && !host.unreachable && !this.endPlay && !this.shared.interrupted()) {
      const wasFailed = host.failed;
      host.failed = false;
      const ra = await this.walkNodes(gate, b.always, host, scope, [...path, 2], rescuable);
      if (wasFailed) host.failed = true;
      if (ra !== 'ok') return ra;
    }
    return host.failed ? 'failed' : r === 'stopped' ? 'stopped' : r;
  }

  /** Runs a task for one host, through the lockstep gate when the strategy is linear. */
  private runTask(
    gate: Lockstep | undefined,
    task: TaskNode,
    host: HostState,
    scope: TaskScope,
    path: number[],
    opts: { rescuable?: boolean; forced?: boolean },
  ): Promise<TaskOutcome | undefined> {
    const exec = () => this.dispatch(task, [{ host, scope, path, resolve: () => {} }], opts);
    if (!gate) return exec().then((m) => m.get(host.name));
    return gate.request(task, host, scope, path, opts);
  }

  /** Runs a task for a group of hosts waiting on it; returns each host's outcome. */
  async dispatch(
    task: TaskNode,
    waiters: Waiter[],
    opts: { rescuable?: boolean; forced?: boolean },
  ): Promise<Map<string, TaskOutcome | undefined>> {
    const results = new Map<string, TaskOutcome | undefined>();
    // Forced handlers run on hosts that failed too.
    const forced = task.handler === true && this.forcingHandlers();
    const live = waiters.filter((w) =>
      forced ? !w.host.unreachable && !this.endPlay && !this.shared.interrupted() : !this.stopped(w.host),
    );
    for (const w of waiters) if (!live.includes(w)) results.set(w.host.name, undefined);
    if (live.length === 0) return results;

    if (task.action === 'meta') return this.dispatchMeta(task, live, results);
    if (this.shared.step && !(await this.stepAllows(task, live[0]!))) {
      for (const w of live) results.set(w.host.name, undefined);
      return results;
    }

    const ref = taskRef(task, this.taskName(task, live[0]!));
    this.emit({ type: 'task.start', task: ref, hosts: live.map((w) => w.host.name), time: Date.now() });

    const runOnce = this.runOnce(task, live[0]!);
    const bypass = BYPASS_HOST_LOOP.has(task.action);
    const targets = runOnce || bypass ? [live[0]!] : live;
    const started = Date.now();
    // throttle: at most N hosts at once for this task (on top of forks).
    const throttle = this.throttleOf(task, live[0]!);
    const gate = throttle > 0 ? pLimit(throttle) : (f: () => Promise<unknown>) => f();
    const outcomes = await Promise.all(
      targets.map(
        (w) =>
          gate(() =>
            this.limit(async () => {
              const t0 = Date.now();
              const out = await this.executor.execute(task, w.host, w.scope);
              return { w, out, ms: Date.now() - t0 };
            }),
          ) as Promise<{ w: Waiter; out: TaskOutcome; ms: number }>,
      ),
    );
    // Ansible groups `included:` lines by file and loop item, hosts in order.
    const includeGroups = new Map<string, { file: string; itemLabel?: string; hosts: string[] }>();
    for (const { w, out, ms } of outcomes) {
      this.record(task, w.host, out, ms, opts.rescuable ?? false);
      results.set(w.host.name, out);
      for (const inc of task.action === 'include_role' ? [] : (out.effects?.include ?? [])) {
        const key = `${inc.file}\0${inc.itemLabel ?? ''}`;
        let g = includeGroups.get(key);
        if (!g) {
          g = { file: inc.file, hosts: [] };
          if (inc.itemLabel !== undefined) g.itemLabel = inc.itemLabel;
          includeGroups.set(key, g);
        }
        g.hosts.push(w.host.name);
      }
      if (out.effects?.meta) await this.applyMeta(out.effects.meta, [w]);
    }
    if (targets.length < live.length) {
      // run_once / bypass: the first host's result stands for all (registered on each).
      const first = outcomes[0]!.out;
      for (const w of live.slice(1)) {
        results.set(w.host.name, first);
        if (task.register)
          w.host.hostFacts[task.register] =
            w.host === live[0]!.host ? undefined : live[0]!.host.hostFacts[task.register];
        if (task.action === 'set_fact' && runOnce && !first.delegatedTo)
          Object.assign(w.host.hostFacts, first.result.ansible_facts ?? {});
      }
    }
    for (const g of includeGroups.values()) {
      const e: RunEvent = { type: 'include', hosts: g.hosts, task: ref, file: g.file, time: Date.now() };
      if (g.itemLabel !== undefined) e.itemLabel = g.itemLabel;
      this.emit(e);
    }
    this.applyFailurePolicies(task, live, results);
    void started;
    return results;
  }

  private readonly stepAnswers = new Map<string, Promise<boolean>>();

  /** --step: asks once per task (y runs it, n skips it, c stops asking for the rest of the run). */
  private stepAllows(task: TaskNode, w: Waiter): Promise<boolean> {
    const step = this.shared.step;
    if (!step || this.shared.stepContinue.value) return Promise.resolve(true);
    let p = this.stepAnswers.get(task.id);
    if (!p) {
      const ref = taskRef(task, this.taskName(task, w));
      p = step(ref.role ? `${ref.role} : ${ref.name}` : ref.name).then((a) => {
        if (a === 'c') this.shared.stepContinue.value = true;
        return a !== 'n';
      });
      this.stepAnswers.set(task.id, p);
    }
    return p;
  }

  private taskName(task: TaskNode, w: Waiter): string {
    if (!task.name) return task.actionAs;
    if (!task.name.includes('{{')) return task.name;
    try {
      // A templated name can hold a vault value: it goes into task.start events and banners.
      const name = String(this.templar.template(task.name, this.executor.varsFor(w.host, w.scope, task)));
      return this.shared.redactor.redactValue(name);
    } catch {
      return task.name;
    }
  }

  private throttleOf(task: TaskNode, w: Waiter): number {
    const v = task.keywords.throttle ?? this.play.keywords.throttle;
    if (v === undefined || v === null) return 0;
    try {
      const n = Number(this.templar.template(v, this.executor.varsFor(w.host, w.scope, task)));
      return Number.isFinite(n) && n > 0 ? Math.floor(n) : 0;
    } catch {
      return 0;
    }
  }

  private runOnce(task: TaskNode, w: Waiter): boolean {
    const v = task.keywords.run_once ?? this.play.keywords.run_once;
    if (v === undefined || v === null) return false;
    try {
      return this.templar.condition(v, this.executor.varsFor(w.host, w.scope, task));
    } catch {
      return false;
    }
  }

  /** Stats, notifications and the event for one host's outcome. */
  private record(task: TaskNode, host: HostState, out: TaskOutcome, ms: number, rescuable: boolean): void {
    const r = out.result;
    let status = out.status;
    if (r._drover_meta !== undefined) return;
    const stats = this.shared.stats(host.name);
    switch (status) {
      case 'unreachable': {
        const ignore = this.ignoreUnreachable(task, host);
        if (ignore) {
          r._ansible_ignore_unreachable = true;
          stats.ok++;
          stats.ignored++;
        } else {
          stats.unreachable++;
          host.unreachable = true;
        }
        break;
      }
      case 'failed':
        if (rescuable) stats.rescued++;
        else stats.failed++;
        host.failed = true;
        host.lastFailure = {
          task: { name: task.name ?? '', action: task.actionAs, args: task.args, id: task.id },
          result: this.shared.redactor.redactValue(r),
        };
        if (rescuable) status = 'failed';
        break;
      case 'ignored':
        stats.ok++;
        stats.ignored++;
        if (r.changed) stats.changed++;
        break;
      case 'skipped':
        stats.skipped++;
        break;
      case 'changed':
        stats.ok++;
        stats.changed++;
        break;
      default:
        // include_role reports nothing and counts nothing in Ansible; include_tasks counts an
        // ok, one per item of a looped include.
        if (task.action === 'include_role') break;
        stats.ok += out.loop && out.effects?.include ? Math.max(1, out.effects.include.length) : 1;
    }
    if ((status === 'changed' || (status === 'ignored' && r.changed)) && task.notify) {
      for (const n of task.notify) {
        const name = this.notifyName(n, task, host);
        host.notified.add(name);
        this.emit({ type: 'handler.notify', host: host.name, handler: name, time: Date.now() });
      }
    }
    const e: RunEvent = {
      type: 'host.result',
      host: host.name,
      task: taskRef(task),
      status,
      result: this.shared.redactor.redactValue(r),
      durationMs: ms,
      time: Date.now(),
    };
    if (out.loop) e.loop = true;
    if (out.delegatedTo) e.delegatedTo = out.delegatedTo;
    this.emit(e);
  }

  private notifyName(n: string, task: TaskNode, host: HostState): string {
    if (!n.includes('{{')) return n;
    try {
      return String(this.templar.template(n, this.executor.varsFor(host, EMPTY_SCOPE, task)));
    } catch {
      return n;
    }
  }

  private ignoreUnreachable(task: TaskNode, host: HostState): boolean {
    const v = task.keywords.ignore_unreachable ?? this.play.keywords.ignore_unreachable;
    if (v === undefined || v === null) return false;
    try {
      return this.templar.condition(v, this.executor.varsFor(host, EMPTY_SCOPE, task));
    } catch {
      return false;
    }
  }

  private applyFailurePolicies(
    task: TaskNode,
    live: Waiter[],
    results: Map<string, TaskOutcome | undefined>,
  ): void {
    const failedNow = live.filter((w) => {
      const s = results.get(w.host.name)?.status;
      return s === 'failed' || s === 'unreachable';
    });
    if (failedNow.length === 0) return;
    const fatal = task.keywords.any_errors_fatal ?? this.play.keywords.any_errors_fatal;
    // any_errors_fatal and max_fail_percentage break the play and the playbook (Ansible's
    // RUN_FAILED_BREAK_PLAY): later plays do not run.
    if (fatal !== undefined && this.templar.condition(fatal, lookupOver([this.options.extraVars]))) {
      if (failedNow.some((w) => w.host.failed)) {
        this.endPlay = true;
        this.abortedAll = true;
        this.noMoreHosts(1);
      }
    }
    const mfp = this.play.max_fail_percentage;
    if (mfp !== undefined && mfp !== null) {
      const failedInBatch = this.batch.filter((h) => {
        const s = this.shared.hostState(h);
        return s.failed || s.unreachable;
      }).length;
      if ((failedInBatch / this.batch.length) * 100 > Number(mfp) && !this.endPlay) {
        this.endPlay = true;
        this.abortedAll = true;
        // Ansible's linear strategy announces it twice here (the percentage check, then the
        // all-hosts-failed check, once every host is marked failed).
        this.noMoreHosts(2);
      }
    }
  }

  private noMoreHosts(times: number): void {
    const play: PlayRef = { id: this.play.id, name: this.playName(), pos: this.play.pos };
    for (let i = 0; i < times; i++)
      this.emit({ type: 'play.no_hosts', play, reason: 'no more hosts left', time: Date.now() });
  }

  // ---- meta and handlers --------------------------------------------------

  private async dispatchMeta(
    task: TaskNode,
    live: Waiter[],
    results: Map<string, TaskOutcome | undefined>,
  ): Promise<Map<string, TaskOutcome | undefined>> {
    const conditional = live.filter((w) => {
      try {
        return this.executor.conditionsPass(task, this.executor.varsFor(w.host, w.scope, task));
      } catch {
        return false;
      }
    });
    const what = String(task.args._raw_params ?? task.args.free_form ?? '').trim();
    const skipped = live.filter((w) => !conditional.includes(w));
    if (!this.implicitTasks.has(task)) {
      // ansible-playbook 2.14 prints a task banner per _execute_meta call: once per host for
      // the metas it runs host by host, once for the others; a host whose `when` is false
      // gets a skipping line (printed, never counted in the stats).
      const perHost = [
        'noop',
        'flush_handlers',
        'end_host',
        'reset_connection',
        'role_complete',
        '',
      ].includes(what);
      const ref = taskRef(task, this.taskName(task, live[0]!));
      for (const w of perHost ? live : live.slice(0, 1)) {
        this.emit({ type: 'task.start', task: ref, hosts: [w.host.name], time: Date.now() });
        if (!skipped.includes(w)) continue;
        const result = { changed: false, skipped: true, skip_reason: 'Conditional result was False' };
        this.emit({
          type: 'host.result',
          host: w.host.name,
          task: ref,
          status: 'skipped',
          result,
          durationMs: 0,
          time: Date.now(),
        });
      }
    }
    for (const w of skipped) {
      results.set(w.host.name, {
        status: 'skipped',
        result: { changed: false, skipped: true, skip_reason: 'Conditional result was False' },
      });
    }
    await this.applyMeta(what, conditional);
    for (const w of conditional) results.set(w.host.name, { status: 'ok', result: { changed: false } });
    return results;
  }

  private async applyMeta(what: string, hosts: Waiter[]): Promise<void> {
    switch (what) {
      case 'flush_handlers': {
        // Forced handlers: hosts that failed earlier join the flush (same handler runs).
        const failed = this.forcingHandlers()
          ? this.batch
              .map((h) => this.shared.hostState(h))
              .filter(
                (h) => h.failed && !h.unreachable && h.notified.size > 0 && !hosts.some((w) => w.host === h),
              )
          : [];
        const order = new Map(this.batch.map((h, i) => [h, i]));
        const all = [...hosts.map((w) => w.host), ...failed].sort(
          (a, b) => (order.get(a.name) ?? 0) - (order.get(b.name) ?? 0),
        );
        await this.flushHandlers(all);
        return;
      }
      case 'end_play':
        this.endPlay = true;
        return;
      case 'end_host':
        for (const w of hosts) w.host.ended = true;
        return;
      case 'end_batch':
        for (const h of this.batch) this.shared.hostState(h).ended = true;
        return;
      case 'clear_facts':
        // Gathered and cacheable facts go; plain set_fact values stay (Ansible's nonpersistent cache).
        for (const w of hosts) w.host.facts = {};
        return;
      case 'clear_host_errors':
        for (const h of this.batch) this.shared.hostState(h).failed = false;
        return;
      case 'reset_connection':
        for (const w of hosts) await this.connector.drop(w.host.name);
        return;
      case 'refresh_inventory':
        await this.shared.inventory.refresh?.();
        return;
      case 'noop':
      case '':
        return;
      default:
        return;
    }
  }

  /** Runs notified handlers, in the order they are defined, for the given hosts. */
  async flushHandlers(hosts: HostState[]): Promise<void> {
    // A topic notifies every handler listening to it: names are consumed once the pass is over.
    const consumed = new Map<HostState, Set<string>>();
    try {
      await this.flushPass(hosts, consumed);
    } finally {
      for (const [h, names] of consumed) for (const n of names) h.notified.delete(n);
    }
  }

  private async flushPass(hosts: HostState[], consumed: Map<HostState, Set<string>>): Promise<void> {
    for (const handler of this.handlers) {
      const names = new Set([handler.name ?? '', ...(handler.listen ?? [])]);
      if (handler.origin.role && handler.name) names.add(`${handler.origin.role.name} : ${handler.name}`);
      const due = hosts.filter((h) => {
        if (h.unreachable) return false;
        if (h.failed && !this.forcingHandlers()) return false;
        return [...names].some((n) => h.notified.has(n));
      });
      if (due.length === 0) continue;
      for (const h of due) {
        let c = consumed.get(h);
        if (!c) {
          c = new Set();
          consumed.set(h, c);
        }
        for (const n of names) if (h.notified.has(n)) c.add(n);
      }
      const waiters: Waiter[] = due.map((host) => ({
        host,
        scope: handlerScope(handler),
        path: [],
        resolve: () => {},
      }));
      const results = await this.dispatch(handler, waiters, {});
      for (const w of waiters) {
        const out = results.get(w.host.name);
        for (const inc of out?.effects?.include ?? []) {
          await this.walkNodes(undefined, inc.nodes, w.host, inc.scope, [], false);
        }
      }
    }
  }

  forcingHandlers(): boolean {
    return this.options.forceHandlers || this.forceHandlersKw();
  }

  private forceHandlersKw(): boolean {
    const v = this.play.force_handlers;
    return v !== undefined && v !== null && this.templar.condition(v, lookupOver([this.options.extraVars]));
  }
}

function handlerScope(handler: TaskNode): TaskScope {
  return handler.origin.role ? { roles: [handler.origin.role], includeParams: [] } : EMPTY_SCOPE;
}

type WalkItem =
  | { kind: 'facts' }
  | { kind: 'flush' }
  | { kind: 'role'; role: RoleInstance }
  | { kind: 'node'; node: PlayNode };

function node(n: PlayNode): WalkItem {
  return { kind: 'node', node: n };
}

export function flattenTasks(nodes: PlayNode[]): TaskNode[] {
  const out: TaskNode[] = [];
  for (const n of nodes) {
    if (n.kind === 'task') out.push(n);
    else out.push(...flattenTasks(n.block), ...flattenTasks(n.rescue), ...flattenTasks(n.always));
  }
  return out;
}

/**
 * The linear strategy's barrier: a task runs when every live host walker is waiting, for
 * all hosts waiting on the earliest task in tree order.
 */
class Lockstep {
  private busy = 0;
  private waiting: (Waiter & {
    task: TaskNode;
    key: string;
    opts: { rescuable?: boolean; forced?: boolean };
  })[] = [];
  private running = false;

  constructor(private readonly run: PlayRun) {}

  start(n: number): void {
    this.busy = n;
  }

  done(): void {
    this.busy--;
    this.pump();
  }

  request(
    task: TaskNode,
    host: HostState,
    scope: TaskScope,
    path: number[],
    opts: { rescuable?: boolean; forced?: boolean },
  ): Promise<TaskOutcome | undefined> {
    return new Promise((resolve) => {
      this.waiting.push({ task, host, scope, path, resolve, key: `${task.id}\0${path.join('.')}`, opts });
      this.busy--;
      this.pump();
    });
  }

  private pump(): void {
    if (this.running || this.busy > 0 || this.waiting.length === 0) return;
    let first = this.waiting[0]!;
    for (const w of this.waiting) if (comparePaths(w.path, first.path) < 0) first = w;
    const group = this.waiting.filter((w) => w.key === first.key);
    this.waiting = this.waiting.filter((w) => w.key !== first.key);
    this.running = true;
    // A rescuable flag may differ per host (different enclosing blocks); run them per flag.
    const byFlag = new Map<boolean, typeof group>();
    for (const w of group) {
      const f = w.opts.rescuable ?? false;
      byFlag.set(f, [...(byFlag.get(f) ?? []), w]);
    }
    void (async () => {
      const all = new Map<string, TaskOutcome | undefined>();
      try {
        for (const [flag, ws] of byFlag) {
          const res = await this.run.dispatch(first.task, ws, { ...first.opts, rescuable: flag });
          for (const [k, v] of res) all.set(k, v);
        }
      } catch (e) {
        for (const w of group)
          all.set(w.host.name, {
            status: 'failed',
            result: { failed: true, msg: `internal error: ${(e as Error).stack}` },
          });
      }
      this.running = false;
      this.busy += group.length;
      for (const w of group) w.resolve(all.get(w.host.name));
      this.pump();
    })();
  }
}

/** Replaces a lazy getter with the value it computed, so it is computed once per object. */
function settle<T>(o: Record<string, unknown>, key: string, value: T): T {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
  return value;
}
