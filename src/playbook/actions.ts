/**
 * Engine actions: the task actions the runner carries out on the controller (they touch
 * no host through a module script). They are declared here, with the same ArgSpec type as
 * modules, so one validation pass checks their arguments too.
 */
import type { ArgSpec } from '../../modules/types.js';

export interface EngineAction {
  /** Short name first, then the ansible.builtin / ansible.legacy names. */
  names: readonly string[];
  args: ArgSpec;
  /** Arguments outside the spec are data (set_fact's facts, add_host's host vars). */
  anyArgs?: boolean;
}

function names(short: string): string[] {
  return [short, `ansible.builtin.${short}`, `ansible.legacy.${short}`];
}

const roleArgs: ArgSpec['options'] = {
  name: { type: 'str', required: true },
  tasks_from: { type: 'str' },
  vars_from: { type: 'str' },
  defaults_from: { type: 'str' },
  handlers_from: { type: 'str' },
  allow_duplicates: { type: 'bool', default: true },
  public: { type: 'bool' },
  rolespec_validate: { type: 'bool', default: true },
};

export const META_ACTIONS: readonly string[] = [
  'flush_handlers',
  'refresh_inventory',
  'noop',
  'clear_facts',
  'clear_host_errors',
  'end_play',
  'end_host',
  'end_batch',
  'reset_connection',
  'role_complete',
];

const list: EngineAction[] = [
  {
    names: names('debug'),
    args: {
      options: { msg: { type: 'raw' }, var: { type: 'raw' }, verbosity: { type: 'int', default: 0 } },
      mutuallyExclusive: [['msg', 'var']],
    },
  },
  {
    names: names('set_fact'),
    args: { options: { cacheable: { type: 'bool', default: false } } },
    anyArgs: true,
  },
  {
    names: names('assert'),
    args: {
      options: {
        that: { type: 'list', required: true },
        fail_msg: { type: 'raw', aliases: ['msg'] },
        success_msg: { type: 'raw' },
        quiet: { type: 'bool', default: false },
      },
    },
  },
  { names: names('fail'), args: { options: { msg: { type: 'raw' } } } },
  {
    names: names('meta'),
    args: {
      freeForm: true,
      options: { _raw_params: { type: 'str', required: true, choices: META_ACTIONS } },
    },
  },
  {
    names: names('include_vars'),
    args: {
      freeForm: true,
      options: {
        _raw_params: { type: 'str' },
        file: { type: 'path' },
        dir: { type: 'path' },
        name: { type: 'str' },
        depth: { type: 'int', default: 0 },
        files_matching: { type: 'str' },
        ignore_files: { type: 'list', elements: 'str' },
        extensions: { type: 'list', elements: 'str' },
        ignore_unknown_extensions: { type: 'bool', default: false },
        hash_behaviour: { type: 'str', choices: ['replace', 'merge'] },
      },
      mutuallyExclusive: [['file', 'dir', '_raw_params']],
    },
  },
  {
    names: names('add_host'),
    args: {
      options: {
        name: { type: 'str', required: true, aliases: ['host', 'hostname'] },
        groups: { type: 'list', elements: 'str', aliases: ['group', 'groupname'] },
      },
    },
    anyArgs: true,
  },
  {
    names: names('group_by'),
    args: {
      options: {
        key: { type: 'str', required: true },
        parents: { type: 'list', elements: 'str', default: ['all'] },
      },
    },
  },
  {
    names: names('pause'),
    args: {
      options: {
        minutes: { type: 'raw' },
        seconds: { type: 'raw' },
        prompt: { type: 'str' },
        echo: { type: 'bool', default: true },
      },
      mutuallyExclusive: [['minutes', 'seconds']],
    },
  },
  {
    names: names('wait_for_connection'),
    args: {
      options: {
        connect_timeout: { type: 'int', default: 5 },
        delay: { type: 'int', default: 0 },
        sleep: { type: 'int', default: 1 },
        timeout: { type: 'int', default: 600 },
      },
    },
  },
  {
    names: names('setup'),
    args: {
      options: {
        gather_subset: { type: 'list', elements: 'str', default: ['all'] },
        gather_timeout: { type: 'int', default: 10 },
        filter: { type: 'list', elements: 'str', default: [] },
        fact_path: { type: 'path', default: '/etc/ansible/facts.d' },
      },
    },
  },
  { names: names('gather_facts'), args: { options: { parallel: { type: 'bool' } } } },
  {
    // `include` is the pre-2.16 spelling of include_tasks (deprecated, still in 2.14).
    names: [...names('include_tasks'), 'include', 'ansible.builtin.include', 'ansible.legacy.include'],
    args: {
      freeForm: true,
      options: { _raw_params: { type: 'str' }, file: { type: 'str' }, apply: { type: 'dict' } },
      mutuallyExclusive: [['file', '_raw_params']],
      requiredOneOf: [['file', '_raw_params']],
    },
  },
  {
    names: names('import_tasks'),
    args: {
      freeForm: true,
      options: { _raw_params: { type: 'str' }, file: { type: 'str' } },
      mutuallyExclusive: [['file', '_raw_params']],
      requiredOneOf: [['file', '_raw_params']],
    },
  },
  { names: names('include_role'), args: { options: { ...roleArgs, apply: { type: 'dict' } } } },
  { names: names('import_role'), args: { options: roleArgs } },
  {
    names: names('set_stats'),
    args: {
      options: {
        data: { type: 'dict', required: true },
        per_host: { type: 'bool', default: false },
        aggregate: { type: 'bool', default: true },
      },
    },
  },
  {
    names: names('async_status'),
    args: {
      options: {
        jid: { type: 'str', required: true },
        mode: { type: 'str', default: 'status', choices: ['status', 'cleanup'] },
      },
    },
  },
];

const byName = new Map<string, EngineAction>();
for (const a of list) for (const n of a.names) byName.set(n, a);

export function findAction(name: string): EngineAction | undefined {
  return byName.get(name);
}

export function actionNames(): string[] {
  return [...byName.keys()];
}

export function engineActions(): readonly EngineAction[] {
  return list;
}

/**
 * Actions whose free-form text is allowed (Ansible's RAW_PARAM_MODULES): the free-form
 * modules plus include/import statements, set_fact, add_host, group_by and meta.
 */
export const RAW_PARAM_ACTIONS: ReadonlySet<string> = new Set([
  'command',
  'shell',
  'raw',
  'script',
  'win_command',
  'win_shell',
  'include',
  'include_vars',
  'include_tasks',
  'include_role',
  'import_tasks',
  'import_role',
  'add_host',
  'group_by',
  'set_fact',
  'meta',
]);

/** Modules whose string argument is free-form text (Ansible's MODULE_REQUIRE_ARGS). */
export const FREE_FORM_ACTIONS: ReadonlySet<string> = new Set([
  'command',
  'shell',
  'raw',
  'script',
  'win_command',
  'win_shell',
]);
