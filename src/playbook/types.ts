/**
 * The typed tree the loader produces from playbook YAML. Values stay raw (untemplated):
 * the runner templates them per host. Every node keeps its source position so errors,
 * annotations and reports can point at file:line:col.
 */
import type { SourcePos } from '../errors.js';

/** Keywords that can appear on plays, blocks, roles and tasks and are inherited downward. */
export interface InheritableKeywords {
  become?: unknown;
  become_user?: unknown;
  become_method?: unknown;
  become_flags?: unknown;
  become_exe?: unknown;
  remote_user?: unknown;
  connection?: unknown;
  environment?: unknown[]; // one entry per level, applied outermost first
  vars?: Record<string, unknown>; // merged outermost first
  ignore_errors?: unknown;
  ignore_unreachable?: unknown;
  check_mode?: unknown;
  diff?: unknown;
  no_log?: unknown;
  any_errors_fatal?: unknown;
  run_once?: unknown;
  delegate_to?: unknown;
  delegate_facts?: unknown;
  throttle?: unknown;
  timeout?: unknown;
  module_defaults?: unknown[];
  collections?: string[];
  port?: unknown;
  debugger?: unknown;
}

/** Where a task came from: the role (for files/templates/vars lookup) and the file. */
export interface TaskOrigin {
  /** Role this task belongs to, if any. */
  role?: RoleInstance;
  /** Directory used to resolve relative paths (the tasks file's dir, or the playbook's). */
  baseDir: string;
}

export interface TaskNode {
  kind: 'task';
  /** Stable id within a run (for events, reports). */
  id: string;
  name?: string;
  /** Module or engine action, canonical short name: 'copy', 'debug', 'include_tasks'. */
  action: string;
  /** The name as written: 'ansible.builtin.copy'. */
  actionAs: string;
  /** Raw module args; free-form text is in `_raw_params`. */
  args: Record<string, unknown>;
  when: unknown[]; // all levels' `when`, ANDed, outermost first
  tags: string[]; // effective tags (inherited union)
  register?: string;
  loop?: unknown; // `loop:` or a with_* (see loopKind)
  loopKind?: string; // 'loop' | 'items' | 'dict' | 'nested' | ... (with_<kind>)
  loop_control?: Record<string, unknown>;
  until?: unknown;
  retries?: unknown;
  delay?: unknown;
  changed_when?: unknown[];
  failed_when?: unknown[];
  notify?: string[];
  listen?: string[]; // handlers only
  async?: unknown;
  poll?: unknown;
  keywords: InheritableKeywords;
  origin: TaskOrigin;
  pos: SourcePos;
  /** The handler flag: this task lives in a handlers section. */
  handler?: boolean;
  /** Set when the module was named through `action:` or `local_action:` (Ansible names the task after it). */
  actionKey?: 'action' | 'local_action';
}

export interface BlockNode {
  kind: 'block';
  id: string;
  name?: string;
  block: PlayNode[];
  rescue: PlayNode[];
  always: PlayNode[];
  when: unknown[];
  tags: string[];
  keywords: InheritableKeywords;
  origin: TaskOrigin;
  pos: SourcePos;
}

export type PlayNode = TaskNode | BlockNode;

export interface RoleInstance {
  name: string;
  path: string; // role directory
  /** Raw role params (`- role: x` + extra keys) and `vars:` given where the role is used. */
  params: Record<string, unknown>;
  defaults: Record<string, unknown>; // defaults/main.yml
  vars: Record<string, unknown>; // vars/main.yml
  /** Role dependencies from meta/main.yml, already loaded. */
  dependencies: RoleInstance[];
  tasks: PlayNode[];
  handlers: PlayNode[];
  pos: SourcePos;
  allowDuplicates: boolean;
}

export interface VarsPrompt {
  name: string;
  prompt?: string;
  default?: unknown;
  private?: boolean;
  confirm?: boolean;
  encrypt?: string;
  salt_size?: number;
  unsafe?: boolean;
}

export interface Play {
  kind: 'play';
  id: string;
  name?: string;
  hosts: unknown; // pattern (string or list), templated against extra vars
  gather_facts: unknown;
  gather_subset?: unknown;
  strategy?: unknown;
  serial?: unknown;
  max_fail_percentage?: unknown;
  order?: unknown;
  force_handlers?: unknown;
  gather_timeout?: unknown;
  fact_path?: unknown;
  vars_files: unknown[];
  vars_prompt: VarsPrompt[];
  roles: RoleInstance[];
  pre_tasks: PlayNode[];
  tasks: PlayNode[];
  post_tasks: PlayNode[];
  handlers: PlayNode[];
  tags: string[];
  keywords: InheritableKeywords;
  /** Directory of the file holding the play: relative paths (roles/, vars_files) resolve here. */
  baseDir: string;
  /** playbook_dir when it differs from baseDir (a play from an imported playbook elsewhere). */
  playbookDir?: string;
  file: string;
  pos: SourcePos;
}

export interface Playbook {
  file: string;
  plays: Play[];
}
