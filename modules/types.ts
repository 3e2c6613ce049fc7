/**
 * A module is a declaration (argument schema, check-mode support) plus a pure planner:
 * from validated arguments and a context to one remote script and a parser of its output.
 * plan() does no I/O of its own; what it needs from the controller comes through ctx.
 */
import type { RunResult } from '../src/transport/types.js';

export type ArgType = 'str' | 'bool' | 'int' | 'float' | 'list' | 'dict' | 'path' | 'raw' | 'jsonarg';

export interface ArgDef {
  type?: ArgType; // default 'str'
  elements?: ArgType; // for lists
  required?: boolean;
  default?: unknown;
  aliases?: readonly string[];
  choices?: readonly unknown[];
  /** Mask this argument's value in every output (passwords). */
  noLog?: boolean;
}

export interface ArgSpec {
  options: Record<string, ArgDef>;
  /** command/shell/raw/script: the free-form text lands in `_raw_params`. */
  freeForm?: boolean;
  mutuallyExclusive?: readonly (readonly string[])[];
  requiredOneOf?: readonly (readonly string[])[];
  requiredTogether?: readonly (readonly string[])[];
  /** [arg, value, required args, any-of instead of all-of] */
  requiredIf?: readonly (readonly [string, unknown, readonly string[], boolean?])[];
}

export interface FileDiff {
  before?: string;
  after?: string;
  before_header?: string;
  after_header?: string;
  prepared?: string;
}

/** What one task did on one host; the keys are Ansible's return values. */
export interface TaskResult {
  changed?: boolean;
  failed?: boolean;
  skipped?: boolean;
  unreachable?: boolean;
  msg?: string;
  rc?: number;
  stdout?: string;
  stderr?: string;
  stdout_lines?: string[];
  stderr_lines?: string[];
  diff?: FileDiff | FileDiff[];
  ansible_facts?: Record<string, unknown>;
  warnings?: string[];
  [key: string]: unknown;
}

/** One remote round trip: a POSIX sh script, its stdin payload, and how to read the answer. */
export interface Step {
  script: string;
  stdin?: Uint8Array | string;
  /** Run without become even if the task has it (e.g. reading a file the user owns). */
  noBecome?: boolean;
  env?: Record<string, string>;
  /** Either the task's result, or a next step when the first answer decides the second. */
  parse(r: RunResult): TaskResult | Step | Promise<TaskResult | Step>;
}

/** Controller-side file access for modules (copy src, template, fetch dest). Swapped in tests. */
export interface ControllerFiles {
  /** Resolve a relative path through the role/playbook search path (`files/`, `templates/`). */
  find(kind: 'files' | 'templates' | 'vars' | 'tasks', path: string): string | undefined;
  /** Read a controller file, decrypting it if it is vault-encrypted. */
  read(path: string): Promise<Buffer>;
  /** Recursively list a controller directory: relative paths of files, dirs and links. */
  walk(
    dir: string,
  ): Promise<{ path: string; type: 'file' | 'dir' | 'link'; mode: number; target?: string }[]>;
  /** Write a controller file (fetch), creating parent directories. */
  write(path: string, data: Uint8Array, mode?: number): Promise<void>;
}

export interface PlanContext {
  host: string;
  check: boolean;
  diff: boolean;
  /** Facts gathered for this host (may be empty when gather_facts is off). */
  facts: Readonly<Record<string, unknown>>;
  /** The remote user after become (for `~` expansion and default owners). */
  remoteUser: string | undefined;
  becoming: boolean;
  /** A per-run scratch dir on the target for modules that need one (already quoted-safe). */
  remoteTmp: string;
  files: ControllerFiles;
  /** Render a Jinja template with the task's variables (template module). */
  render(source: string, opts?: { path?: string }): Promise<string>;
}

export type CheckSupport = 'full' | 'partial' | 'none';

export interface Module<A = Record<string, unknown>> {
  /** Short name first, then FQCNs: ['copy', 'ansible.builtin.copy']. */
  names: readonly string[];
  args: ArgSpec;
  check: CheckSupport;
  /** Does the module produce a diff under --diff? */
  diff?: boolean;
  plan(args: A, ctx: PlanContext): Step | TaskResult | Promise<Step | TaskResult>;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds modules of every argument type
export type AnyModule = Module<any>;

/** Tell a Step from a TaskResult (a TaskResult may carry any key, so `in` checks do not narrow). */
export function isStep(x: Step | TaskResult): x is Step {
  return typeof (x as Step).parse === 'function' && typeof (x as Step).script === 'string';
}
